"""Identifiers: time-ordered, random, URL- and schedule-name-safe."""

from __future__ import annotations

import hashlib
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(now_ms: int | None = None) -> str:
    """A 26-character ULID-style id: 48 bits of milliseconds then 80 random bits, so ids sort
    by creation time (a tenant's list Query returns oldest first) and never collide in practice."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode((ms << 80) | secrets.randbits(80))


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def is_id(value: str) -> bool:
    """Whether ``value`` could be an id made by ``new_id``."""
    return len(value) == 26 and all(c in _ALPHABET for c in value)


def fire_run_id(job_id: str, scheduled_time_ms: int) -> str:
    """The run id of one scheduled fire: time-ordered like ``new_id`` (its scheduled time), with
    the random part derived from (job, scheduled time), so every delivery of the same fire
    names the same run and a conditional put lets only the first one through."""
    digest = hashlib.sha256(f"{job_id}|{scheduled_time_ms}".encode()).digest()
    return _encode((scheduled_time_ms << 80) | int.from_bytes(digest[:10], "big"))
