"""Built-in tasks: enough to try scheduling, cancellation and failure without writing code."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.tasks.registry import task


class TaskFailed(Exception):
    """Raised by ``fail``: a deliberate, expected task failure."""


@task("echo")
def echo(ctx: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return the args and kwargs it was called with."""
    return {"args": list(args), "kwargs": kwargs}


@task("sleep")
def sleep(ctx: Any, seconds: float = 1.0) -> dict[str, float]:
    """Sleep for `seconds`, checking for cancellation every 100 ms. Stopped by a cancel, it
    returns early; as its context saw the cancel, the step is recorded CANCELLED, without a
    result, and the run ends CANCELLED."""
    seconds = float(seconds)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if ctx.cancelled():
            break
        time.sleep(min(0.1, left))
    return {"slept": round(seconds - max(deadline - time.monotonic(), 0.0), 3)}


@task("fail")
def fail(ctx: Any, message: str = "failed on purpose") -> None:
    """Raise TaskFailed with `message`."""
    raise TaskFailed(message)
