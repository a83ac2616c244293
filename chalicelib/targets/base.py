"""What every target type is: how its spec is checked, and how the worker calls it.

A target is work that needs no code: the worker calls an HTTP endpoint or an AWS service
in place of a registered task, inside the same run (so retries, history and cancellation
are the same as a task's). A type is registered once, by name, as a ``TargetType``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.errors import InvalidRequest


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
    the call and returns the result recorded on the run, or raises ``TargetFailed``.

    ``admit(tenant, spec)``, optional, checks what depends on the tenant's settings (an HTTP
    target's host on the tenant's allow-list) when a job or run is made; ``validate`` stays a
    pure function of the spec."""

    name: str
    validate: Callable[[Mapping[str, Any]], dict[str, Any]]
    call: Callable[[TargetContext, Mapping[str, Any]], Any]
    admit: Callable[[str, Mapping[str, Any]], None] | None = None


_TYPES: dict[str, TargetType] = {}
#: The built-in types and the module that registers each: a module is imported on its types'
#: first use, so a worker whose runs call tasks never loads the HTTP or AWS targets' code
#: (issue 19, cold start).
BUILTIN: dict[str, str] = {
    "http": "chalicelib.targets.http",
    "lambda": "chalicelib.targets.aws",
    "sqs": "chalicelib.targets.aws",
    "eventbridge": "chalicelib.targets.aws",
    "stepfunctions": "chalicelib.targets.aws",
}


def register(target_type: TargetType) -> TargetType:
    if target_type.name in _TYPES:
        raise ValueError(f"target type {target_type.name!r} is already registered")
    _TYPES[target_type.name] = target_type
    return target_type


def get(name: str) -> TargetType | None:
    if name not in _TYPES and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    return _TYPES.get(name)


def names() -> tuple[str, ...]:
    return tuple(sorted(_TYPES.keys() | BUILTIN.keys()))


def check(
    spec: Any, tenant: str | None = None, timeout_seconds: float | None = None
) -> dict[str, Any]:
    """A job's or run's ``target`` checked and normalised: an object whose ``type`` is a
    registered type, valid for that type (and, given ``tenant``, admitted by its settings).
    A ``timeout_seconds`` in the spec may not exceed the run's own timeout."""
    if not isinstance(spec, Mapping):
        raise InvalidRequest("target", "must be an object with a type")
    kind = spec.get("type")
    target_type = get(kind) if isinstance(kind, str) else None
    if target_type is None:
        raise InvalidRequest(
            "target.type", f"{kind!r} is not a target type (known: {', '.join(names())})"
        )
    normalised = target_type.validate(spec)
    normalised["type"] = target_type.name
    limit = normalised.get("timeout_seconds")
    if timeout_seconds is not None and isinstance(limit, (int, float)) and limit > timeout_seconds:
        raise InvalidRequest(
            "target.timeout_seconds",
            f"{limit} is more than the run's timeout_seconds ({timeout_seconds})",
        )
    if tenant is not None and target_type.admit is not None:
        target_type.admit(tenant, normalised)
    return normalised


def label(spec: Any) -> str:
    """A target as a one-word name, where a face shows a task name (``target:http``)."""
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    return f"target:{kind or 'unknown'}"


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
