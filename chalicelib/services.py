"""The composition root: builds the services from settings on first use, once per process.

Each factory imports its service's module when it first builds it, not when this module loads:
``app.py`` imports this module on every function, and a cold start should pay only for the
services its first request or event uses (issue 19)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from chalicelib import aws
from chalicelib.settings import get_settings, reset_settings

if TYPE_CHECKING:
    from chalicelib.auth import KeyService
    from chalicelib.execution import Executor
    from chalicelib.firing import Firing
    from chalicelib.jobs import JobService
    from chalicelib.queues import QueueGateway
    from chalicelib.runs import RunService
    from chalicelib.scheduler import SchedulerGateway
    from chalicelib.tenants import TenantService
    from chalicelib.worker import Worker


def _bind() -> None:
    """Point the storage models at the settings' tables (imports PynamoDB's models)."""
    from chalicelib import storage

    storage.bind(get_settings())


@lru_cache(maxsize=1)
def queues() -> QueueGateway:
    from chalicelib.queues import QueueGateway

    settings = get_settings()
    return QueueGateway(settings, lambda: aws.client_for("sqs", settings))


@lru_cache(maxsize=1)
def scheduler() -> SchedulerGateway:
    from chalicelib.scheduler import SchedulerGateway

    settings = get_settings()
    return SchedulerGateway(settings, lambda: aws.client_for("scheduler", settings))


@lru_cache(maxsize=1)
def job_service() -> JobService:
    from chalicelib.jobs import JobService
    from chalicelib.tasks import registry

    _bind()
    return JobService(get_settings(), scheduler(), registry, queues())


@lru_cache(maxsize=1)
def run_service() -> RunService:
    from chalicelib.runs import RunService
    from chalicelib.tasks import registry

    _bind()
    return RunService(registry, queues())


@lru_cache(maxsize=1)
def keys() -> KeyService:
    from chalicelib.auth import KeyService

    _bind()
    return KeyService()


@lru_cache(maxsize=1)
def tenants() -> TenantService:
    from chalicelib.tenants import TenantService

    _bind()
    return TenantService()


@lru_cache(maxsize=1)
def executor() -> Executor:
    from chalicelib.execution import Executor
    from chalicelib.tasks import registry

    _bind()
    return Executor(registry, queues())


@lru_cache(maxsize=1)
def firing() -> Firing:
    from chalicelib.clock import utcnow
    from chalicelib.firing import Firing

    _bind()
    return Firing(job_service, queues(), utcnow)


@lru_cache(maxsize=1)
def worker() -> Worker:
    from chalicelib.clock import utcnow
    from chalicelib.worker import Worker

    _bind()  # the worker reads runs itself, before building any service
    # Factories, not services: each event builds what it needs on first use (a run's
    # message no firing, a fire no run service).
    return Worker(firing, executor, run_service, queues(), utcnow)


def reset() -> None:
    """Drop every cached setting, client and service (tests, local runtime restarts)."""
    for cached in (
        queues,
        scheduler,
        job_service,
        run_service,
        keys,
        tenants,
        executor,
        firing,
        worker,
    ):
        cached.cache_clear()
    aws.client.cache_clear()
    reset_settings()
