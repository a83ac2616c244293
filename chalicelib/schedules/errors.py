"""Errors raised by the pure schedule code; the job service turns them into domain errors
(InvalidRequest, Unprocessable), which the API answers 400 and 422."""

from __future__ import annotations


class ScheduleError(ValueError):
    """The input breaks a rule: answered 400 with ``field`` and ``rule``."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class NoEquivalentError(ScheduleError):
    """Valid input with no EventBridge Scheduler equivalent: answered 422 with the reason."""
