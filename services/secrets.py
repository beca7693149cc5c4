"""Secrets kept out of logs: settings values and URLs with their passwords masked."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

MASK = "***"
SECRET_PARAMETERS = frozenset({"password", "pass", "passwd", "secret", "token", "api_key"})


def masked_url(url: str) -> str:
    """``url`` with the password of its user part and every secret query parameter masked.

    The user part ends at the *last* ``@`` of the address (a password may contain ``@``).

    Examples
    --------
    >>> masked_url("redis://user:hunter2@db:6379/0")
    'redis://user:***@db:6379/0'
    >>> masked_url("redis://:p@ss:w@rd@db:6379/0")
    'redis://:***@db:6379/0'
    >>> masked_url("redis://db:6379/0?password=hunter2&db=1")
    'redis://db:6379/0?password=***&db=1'
    >>> masked_url("redis://db:6379/0")
    'redis://db:6379/0'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user_info, host = netloc.rsplit("@", 1)
        if ":" in user_info:
            user_info = f"{user_info.split(':', 1)[0]}:{MASK}"
        netloc = f"{user_info}@{host}"
    query = "&".join(
        f"{name}={MASK}" if name.lower() in SECRET_PARAMETERS else pair
        for pair in parts.query.split("&")
        if pair
        for name in [pair.split("=", 1)[0]]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def masked(value: object) -> object:
    """A setting's value as it may be logged: secrets as ``***``, URLs without passwords."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, str) and "://" in value:
        return masked_url(value)
    return value
