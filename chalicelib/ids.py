"""Identifiers: time-ordered, random, URL- and schedule-name-safe."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


@dataclass
class _Seed:
    """What an idempotent request's ids derive from, and how many it made so far."""

    seed: str
    ms: int
    count: int = 0


_DERIVED: ContextVar[_Seed | None] = ContextVar("beatless_derived_ids", default=None)


def new_id(now_ms: int | None = None) -> str:
    """A 26-character ULID-style id: 48 bits of milliseconds then 80 random bits, so ids sort
    by creation time (a tenant's list Query returns oldest first) and never collide in practice.

    Under ``derived_ids`` the n-th id of the request is derived from its seed instead, so the
    retry of a request that failed midway names what the first attempt wrote the same, and the
    create's own conditional write finds it instead of writing a duplicate."""
    derived = _DERIVED.get()
    if derived is not None and now_ms is None:
        digest = hashlib.sha256(f"{derived.seed}|{derived.count}".encode()).digest()
        derived.count += 1
        return _encode((derived.ms << 80) | int.from_bytes(digest[:10], "big"))
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode((ms << 80) | secrets.randbits(80))


@contextmanager
def derived_ids(seed: str, started_ms: int) -> Iterator[None]:
    """Within the block, ``new_id()`` answers ids derived from ``seed`` (an idempotency
    record's key), time-ordered at ``started_ms`` (its first attempt's)."""
    token = _DERIVED.set(_Seed(seed, started_ms))
    try:
        yield
    finally:
        _DERIVED.reset(token)


def deriving() -> bool:
    """Whether ids are derived: a write that finds its own id taken is this request's retry."""
    return _DERIVED.get() is not None


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
