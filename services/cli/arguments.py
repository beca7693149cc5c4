"""Argument types of the command line: each refuses a bad value with a precise message."""

from __future__ import annotations

import argparse
import re


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def positive(text: str) -> float:
    value = number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return value


def share(text: str) -> float:
    value = number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return value


def bundle_name(text: str) -> str:
    """A models-folder name: lower-case letters, digits, ``.``, ``_`` and ``-``.

    >>> bundle_name("css-hybrid")
    'css-hybrid'
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: 1-64 lower-case letters, digits, '.', '_' or '-', not starting with one "
            "of the last three"
        )
    return text
