"""A task's parameters as a form asks them, and string answers turned into its arguments.

Faces whose clients send every value as a string (Alteryx's ``questions``: ``[{name, value}]``)
need the task's signature to know what to ask and what type to pass on; the signature is read
with ``inspect.signature`` once per task, here, not in the faces.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidRequest
from chalicelib.tasks.registry import TaskDef

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a task (the context argument left out)."""

    name: str
    kind: type  # str, int, float, bool, list or dict: what an answer is parsed as
    required: bool
    default: Any
    choices: tuple[Any, ...] = ()  # a Literal's values

    @property
    def type_name(self) -> str:
        return self.kind.__name__


def parameters(task: TaskDef) -> tuple[list[Parameter], bool]:
    """The task's keyword parameters in order, and whether it takes any keyword (``**kwargs``)."""
    try:
        signature = inspect.signature(task.func, eval_str=True)
    except (NameError, TypeError, ValueError):
        try:
            signature = inspect.signature(task.func)
        except (TypeError, ValueError):
            return [], True
    params = list(signature.parameters.values())[1:]  # the first is the run's context
    found = []
    for p in params:
        if p.kind in _NAMED:
            kind, choices = _kind(p)
            required = p.default is inspect.Parameter.empty
            default = None if required else p.default
            found.append(Parameter(p.name, kind, required, default, choices))
    return found, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _kind(param: inspect.Parameter) -> tuple[type, tuple[Any, ...]]:
    annotation = param.annotation
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        return type(choices[0]) if choices else str, choices
    if typing.get_origin(annotation) in (list, dict):
        return typing.get_origin(annotation), ()
    if annotation in (str, int, float, bool, list, dict):
        return annotation, ()
    default = param.default
    if default is not inspect.Parameter.empty and type(default) in (int, float, bool, list, dict):
        return type(default), ()
    return str, ()


def answers_to_kwargs(
    task: TaskDef, base: Mapping[str, Any], answers: Mapping[str, str], field: str
) -> dict[str, Any]:
    """``base`` (the job's own arguments) with each answer parsed as its parameter's type; an
    InvalidRequest naming ``field`` and the question for an unknown name or an unparsable
    value."""
    known, open_ended = parameters(task)
    by_name = {p.name: p for p in known}
    kwargs = dict(base)
    for name, raw in answers.items():
        param = by_name.get(name)
        if param is None and not open_ended:
            asked = ", ".join(by_name) or "none"
            raise InvalidRequest(
                field, f"{name!r} is not a question of this workflow (it asks {asked})"
            )
        kwargs[name] = raw if param is None else _parse(param, raw, field)
    missing = [p.name for p in known if p.required and p.name not in kwargs]
    if missing:
        raise InvalidRequest(field, f"{missing[0]!r} must be answered")
    return kwargs


def _parse(param: Parameter, raw: str, field: str) -> Any:
    where = f"{field}.{param.name}"
    try:
        if param.kind is bool:
            if raw.strip().lower() not in ("true", "false", "1", "0"):
                raise ValueError
            value: Any = raw.strip().lower() in ("true", "1")
        elif param.kind in (int, float):
            value = param.kind(raw)
        elif param.kind in (list, dict):
            value = json.loads(raw)
            if not isinstance(value, param.kind):
                raise ValueError
        else:
            value = raw
    except ValueError:
        raise InvalidRequest(where, f"{raw[:100]!r} is not a {param.type_name}") from None
    if param.choices and value not in param.choices:
        allowed = ", ".join(str(c) for c in param.choices)
        raise InvalidRequest(where, f"{raw[:100]!r} must be one of {allowed}")
    return value
