"""Task registry and the built-in tasks (importing this package registers them; the user's
task modules are imported on the registry's first use)."""

from chalicelib.tasks import builtin, dapr
from chalicelib.tasks.registry import (
    QUEUES,
    TaskDef,
    TaskModuleError,
    TaskRegistry,
    registry,
    task,
)

__all__ = [
    "QUEUES",
    "TaskDef",
    "TaskModuleError",
    "TaskRegistry",
    "builtin",
    "dapr",
    "registry",
    "task",
]
