"""The ``dmdt`` command line: :func:`main` parses and runs one subcommand."""

from services.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
