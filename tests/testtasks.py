"""Tasks registered for the tests only (imported by conftest)."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import services
from chalicelib.tasks import registry

CALLS: dict[str, int] = {}
_LOCK = threading.Lock()


def calls(name: str) -> int:
    return CALLS.get(name, 0)


def _count(name: str) -> None:
    with _LOCK:
        CALLS[name] = CALLS.get(name, 0) + 1


@registry.register("tests.count")
def count(ctx: Any, key: str = "count") -> str:
    """Count calls under `key`."""
    _count(key)
    return key


@registry.register("tests.add")
def add(ctx: Any, n: int = 1) -> int:
    """Add n to the previous step's result."""
    return (ctx.previous or 0) + n


@registry.register("tests.flaky")
def flaky(ctx: Any, key: str, failures: int) -> int:
    """Fail the first `failures` attempts."""
    _count(key)
    if ctx.attempt <= failures:
        raise RuntimeError(f"attempt {ctx.attempt} fails")
    return ctx.attempt


@registry.register("tests.chatty")
def chatty(ctx: Any, lines: int = 3) -> int:
    """Log `lines` messages."""
    for i in range(lines):
        ctx.log(f"line {i}", level="DEBUG" if i % 2 else "INFO")
    return lines


@registry.register("tests.cancel_self")
def cancel_self(ctx: Any) -> str:
    """Request this run's own cancellation, then return as if it succeeded."""
    services.run_service().cancel(ctx.tenant, ctx.run_id)
    return "done"


@registry.register("tests.big")
def big(ctx: Any, size: int = 100_000) -> str:
    """Return a string of `size` characters."""
    return "x" * size


@registry.register("tests.context")
def context(ctx: Any) -> dict[str, Any]:
    """Return what the context says."""
    return {
        "run_id": ctx.run_id,
        "attempt": ctx.attempt,
        "data": ctx.data,
        "job_id": ctx.job_id,
        "remaining_positive": ctx.remaining_seconds() > 0,
        "cancelled": ctx.cancelled(),
    }
