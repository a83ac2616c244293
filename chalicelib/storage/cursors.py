"""Opaque pagination cursors: the last returned item's key, base64url-encoded JSON.

A cursor is bound to the tenant and the list it came from; a tampered or foreign cursor is a 400,
never a peek at another tenant's keys."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from chalicelib.errors import InvalidRequest
from chalicelib.ids import is_id

T = TypeVar("T")


def encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, expect: dict[str, str]) -> dict[str, Any] | None:
    """Decode ``cursor``; ``expect`` holds the key attributes that must match (the tenant)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("cursor", "is not a cursor returned by this list") from None
    if not isinstance(key, dict) or any(key.get(k) != v for k, v in expect.items()):
        raise InvalidRequest("cursor", "is not a cursor returned by this list")
    if not all(isinstance(v, str) and len(v) <= 300 for v in key.values()) or not all(
        is_id(key[name]) for name in ("job_id", "run_id") if name in key
    ):
        raise InvalidRequest("cursor", "is not a cursor returned by this list")
    return key


def take_page(results: Iterable[T], limit: int) -> tuple[list[T], bool]:
    """The first ``limit`` items of a Query asked for ``limit + 1``, and whether more exist:
    the one item past the page says so without another request."""
    items: list[T] = []
    for item in results:
        items.append(item)
        if len(items) > limit:
            break
    return items[:limit], len(items) > limit
