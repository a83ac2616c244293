"""Targets: work that needs no code (an HTTP endpoint, an AWS service), called by the worker.

Each built-in type's module registers it, and is imported on the type's first use
(``base.BUILTIN``); a worker that only runs tasks loads neither."""

from chalicelib.targets.base import (
    PLACEHOLDERS,
    TargetContext,
    TargetFailed,
    TargetType,
    check,
    get,
    label,
    names,
    register,
    render,
)

__all__ = [
    "PLACEHOLDERS",
    "TargetContext",
    "TargetFailed",
    "TargetType",
    "check",
    "get",
    "label",
    "names",
    "register",
    "render",
]
