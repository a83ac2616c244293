"""Task registry and the built-in tasks (importing this package registers them)."""

from chalicelib.tasks import builtin, dapr
from chalicelib.tasks.registry import QUEUES, TaskDef, TaskRegistry, registry, task

__all__ = ["QUEUES", "TaskDef", "TaskRegistry", "builtin", "dapr", "registry", "task"]
