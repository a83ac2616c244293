"""The task registry: what a job or a run may execute, registered with a decorator."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidRequest
from chalicelib.vocabulary import Queue

QUEUES = tuple(Queue)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class TaskDef:
    name: str
    func: Callable[..., Any]
    queue: str
    doc: str
    schedulable: bool

    def check_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any], at: str = "") -> None:
        """Refuse what ``func(ctx, *args, **kwargs)`` could not be called with, when a job or a
        run is made rather than as a TypeError when it runs: an InvalidRequest naming the field
        (``args`` or ``kwargs``, under ``at``: ``steps.2.kwargs``) and Python's own rule."""
        try:
            signature = inspect.signature(self.func)
        except (TypeError, ValueError):  # no signature to check against: the run will tell
            return
        params = list(signature.parameters.values())
        ctx = params.pop(0) if params and params[0].kind in _POSITIONAL else None
        signature = signature.replace(parameters=params)
        where = f"{at}." if at else ""
        try:
            signature.bind_partial(*args)
        except TypeError as error:
            raise InvalidRequest(f"{where}args", str(error)) from None
        if (
            ctx is not None
            and ctx.kind is not inspect.Parameter.POSITIONAL_ONLY
            and ctx.name in kwargs
        ):
            raise InvalidRequest(f"{where}kwargs", f"multiple values for argument {ctx.name!r}")
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:  # an unknown or repeated keyword, or a missing argument
            raise InvalidRequest(f"{where}{'kwargs' if kwargs else 'args'}", str(error)) from None


class TaskRegistry:
    """Name → task. One module-level instance (``registry``) is what the app and worker use."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}

    def register(
        self, name: str | None = None, *, queue: str = "default", schedulable: bool = True
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``func(ctx, *args, **kwargs)`` under ``name`` (default: the function name)."""
        if queue not in QUEUES:
            raise ValueError(f"queue must be one of {QUEUES}, not {queue!r}")

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            task_name = name or func.__name__
            if task_name in self._tasks:
                raise ValueError(f"task {task_name!r} is already registered")
            doc = (inspect.getdoc(func) or "").strip().splitlines()
            self._tasks[task_name] = TaskDef(
                task_name, func, queue, doc[0] if doc else "", schedulable
            )
            return func

        return decorator

    def get(self, name: str) -> TaskDef | None:
        return self._tasks.get(name)

    def all(self) -> list[TaskDef]:
        return sorted(self._tasks.values(), key=lambda t: t.name)


registry = TaskRegistry()
task = registry.register
