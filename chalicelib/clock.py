"""Time: the clock, and the Lambda's time budget (whether a run or a fire may start in the
time left).

Its own small module because the worker checks the budget before it loads the machinery an
event needs (the executor, the firing), and the executor checks it again before each attempt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: What a run needs of the Lambda's remaining time to be claimed (or a fire to be admitted):
#: its whole timeout if that is short, else at least MIN_START_SECONDS, plus START_MARGIN for
#: the writes around it. With less, the message is left for another invocation instead of
#: being claimed and ended TIMED_OUT at once.
MIN_START_SECONDS = 30.0
START_MARGIN_SECONDS = 5.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class NoTimeLeft(Exception):
    """The Lambda has too little time left to start a run: nothing was run, nothing counted."""


def needed_seconds(timeout_seconds: float | None) -> float:
    """The Lambda time a run with this timeout needs to be started (see MIN_START_SECONDS)."""
    return min(float(timeout_seconds or 300), MIN_START_SECONDS) + START_MARGIN_SECONDS


def check_time(
    timeout_seconds: float | None, remaining_ms: Callable[[], int] | None
) -> float | None:
    """The Lambda's seconds left, if it has the time a run with this timeout needs, else raise
    NoTimeLeft; None without a Lambda context (tests, the fault harness): no limit."""
    if remaining_ms is None:
        return None
    left, needed = remaining_ms() / 1000, needed_seconds(timeout_seconds)
    if left < needed:
        raise NoTimeLeft(f"too little time left: {left:.1f} s, where a run needs {needed:.0f} s")
    return left
