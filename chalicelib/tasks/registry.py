"""The task registry: what a job or a run may execute, registered with a decorator."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUEUES = ("high", "default", "low")


@dataclass(frozen=True)
class TaskDef:
    name: str
    func: Callable[..., Any]
    queue: str
    doc: str
    schedulable: bool


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
