"""Targets: work that needs no code (an HTTP endpoint, an AWS service), called by the worker."""

from chalicelib.targets import aws
from chalicelib.targets.base import (
    PLACEHOLDERS,
    TargetContext,
    TargetFailed,
    TargetType,
    get,
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
    "get",
    "names",
    "register",
    "render",
]
