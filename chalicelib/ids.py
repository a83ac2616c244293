"""Identifiers: time-ordered, random, URL- and schedule-name-safe."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(now_ms: int | None = None) -> str:
    """A 26-character ULID-style id: 48 bits of milliseconds then 80 random bits, so ids sort
    by creation time (a tenant's list Query returns oldest first) and never collide in practice."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def is_id(value: str) -> bool:
    """Whether ``value`` could be an id made by ``new_id``."""
    return len(value) == 26 and all(c in _ALPHABET for c in value)
