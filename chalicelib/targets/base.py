"""What every target type is: how its spec is checked, and how the worker calls it.

A target is work that needs no code: the worker calls an HTTP endpoint or an AWS service
in place of a registered task, inside the same run (so retries, history and cancellation
are the same as a task's). A type is registered once, by name, as a ``TargetType``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class TargetContext(Protocol):
    """The part of a task's context a target call uses (``execution.TaskContext`` has it)."""

    tenant: str
    run_id: str
    job_id: str | None
    attempt: int
    scheduled_time: Any

    def log(self, text: str, level: str = "INFO") -> None: ...

    def remaining_seconds(self) -> float: ...


class TargetFailed(Exception):
    """The call did not succeed. ``retryable=False`` ends the run FAILED at once, whatever
    attempts its retry policy has left (an HTTP 404 will not become a 200 by asking again)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class TargetType:
    """``validate(spec)`` returns the spec normalised (defaults filled in) or raises
    ``errors.InvalidRequest`` naming the field under ``target.``; ``call(ctx, spec)`` performs
    the call and returns the result recorded on the run, or raises ``TargetFailed``."""

    name: str
    validate: Callable[[Mapping[str, Any]], dict[str, Any]]
    call: Callable[[TargetContext, Mapping[str, Any]], Any]


_TYPES: dict[str, TargetType] = {}


def register(target_type: TargetType) -> TargetType:
    if target_type.name in _TYPES:
        raise ValueError(f"target type {target_type.name!r} is already registered")
    _TYPES[target_type.name] = target_type
    return target_type


def get(name: str) -> TargetType | None:
    return _TYPES.get(name)


def names() -> tuple[str, ...]:
    return tuple(sorted(_TYPES))


#: Context attributes a payload may hold, replaced in every string of it at call time. The
#: ``aws.scheduler`` spellings are EventBridge Scheduler's own, so a payload moved from a
#: schedule target keeps working.
PLACEHOLDERS: dict[str, Callable[[TargetContext], str]] = {
    "<beatless.run-id>": lambda ctx: ctx.run_id,
    "<beatless.job-id>": lambda ctx: ctx.job_id or "",
    "<beatless.scheduled-time>": lambda ctx: _instant(ctx.scheduled_time),
    "<beatless.attempt>": lambda ctx: str(ctx.attempt),
    "<aws.scheduler.execution-id>": lambda ctx: ctx.run_id,
    "<aws.scheduler.scheduled-time>": lambda ctx: _instant(ctx.scheduled_time),
    "<aws.scheduler.attempt-number>": lambda ctx: str(ctx.attempt),
}


def render(value: Any, ctx: TargetContext) -> Any:
    """``value`` with every placeholder in its strings (keys and values, at any depth)
    replaced by the run's attribute."""
    if isinstance(value, str):
        for placeholder, attribute in PLACEHOLDERS.items():
            if placeholder in value:
                value = value.replace(placeholder, attribute(ctx))
        return value
    if isinstance(value, Mapping):
        return {render(key, ctx): render(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, ctx) for item in value]
    return value


def _instant(value: Any) -> str:
    """An instant as RFC 3339 UTC (``Z``), whatever form the run holds it in."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)
