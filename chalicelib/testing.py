"""Run a task in-process, as Celery's ``task.apply()`` does, for the user's own tests: through
the real RunService and Executor, against moto (tables and queues created), so arguments are
checked, the context is the real one and the log is really written (docs/tasks.md).

``moto`` is a development dependency: it is imported here only when a helper is called."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.tasks import TaskRegistry, registry

__all__ = ["AppliedRun", "apply", "run_task"]


@dataclass(frozen=True)
class AppliedRun:
    """A finished run, as the API would show it."""

    run_id: str
    status: str  # SUCCEEDED, FAILED, CANCELLED or TIMED_OUT
    result: Any
    exc: str | None  # the exception's type, for a failed run
    error: str | None  # its message
    traceback: str | None
    steps: list[dict[str, Any]]
    messages: list[str] = field(default_factory=list)  # the lines the task logged

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


def apply(task: str | Callable[..., Any], *args: Any, **kwargs: Any) -> AppliedRun:
    """Run ``task`` (its name, or the decorated function) with these arguments, once, now."""
    return run_task(task, args, kwargs)


def run_task(
    task: str | Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    data: Any = None,
    timeout_seconds: int = 300,
    tenant: str = "default",
    tasks: TaskRegistry = registry,
) -> AppliedRun:
    """``apply`` with the run's other inputs: ``data`` (``ctx.data``), its timeout, its tenant.

    Wrong arguments raise InvalidRequest, as the API answers 400; a task that raises gives a
    FAILED run (no retry: this is one attempt)."""
    from chalicelib.execution import Executor
    from chalicelib.runs import RunService, steps_of
    from chalicelib.storage.models import RunModel

    name = task if isinstance(task, str) else _name_of(task, tasks)
    steps = steps_of(tasks, name, None, list(args), dict(kwargs or {}))
    with _emulated_aws() as queues:
        runs = RunService(tasks, queues)
        run = runs.submit(tenant, steps, data=data, timeout_seconds=timeout_seconds)
        run = RunModel.get(tenant, run.run_id, consistent_read=True)
        executor = Executor(tasks, queues)
        if executor.claim(run):
            executor.execute(run)
        run, page = runs.with_messages(tenant, run.run_id, limit=1000)
        return AppliedRun(
            run_id=run.run_id,
            status=run.status,
            result=run.result,
            exc=run.exc,
            error=run.error,
            traceback=run.traceback,
            steps=list(run.steps),
            messages=[m.text for m in page.items],
        )


def _name_of(func: Callable[..., Any], tasks: TaskRegistry) -> str:
    definition = tasks.find(func)
    if definition is None:
        raise LookupError(f"{func!r} is not a registered task (decorate it with @task)")
    return definition.name


@contextmanager
def _emulated_aws() -> Iterator[Any]:
    """moto with beatless's resources; inside a moto world the caller started, that one (moto
    nests without a reset). The environment and the cached clients are put back after."""
    from moto import mock_aws

    from chalicelib import resources, services
    from chalicelib.settings import get_settings

    saved = {k: os.environ.get(k) for k in ("BEATLESS_AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")}
    os.environ.pop("BEATLESS_AWS_ENDPOINT_URL", None)  # never a real or make-run endpoint
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    services.reset()
    try:
        with mock_aws():
            resources.provision(get_settings())
            yield services.queues()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        services.reset()
