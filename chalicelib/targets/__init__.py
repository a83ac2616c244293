"""Targets: work that needs no code (an HTTP endpoint, an AWS service), called by the worker.

Importing this package registers every type: each module below registers its own."""

from chalicelib.targets import aws, http
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
    "aws",
    "check",
    "get",
    "http",
    "label",
    "names",
    "register",
    "render",
]
