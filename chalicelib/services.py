"""The composition root: builds the services from settings on first use, once per process."""

from __future__ import annotations

from functools import lru_cache

from chalicelib import aws, storage
from chalicelib.auth import KeyService
from chalicelib.execution import Executor, utcnow
from chalicelib.firing import Firing
from chalicelib.jobs import JobService
from chalicelib.queues import QueueGateway
from chalicelib.runs import RunService
from chalicelib.scheduler import SchedulerGateway
from chalicelib.settings import get_settings, reset_settings
from chalicelib.tasks import registry
from chalicelib.tenants import TenantService
from chalicelib.worker import Worker


@lru_cache(maxsize=1)
def queues() -> QueueGateway:
    settings = get_settings()
    return QueueGateway(settings, lambda: aws.client_for("sqs", settings))


@lru_cache(maxsize=1)
def scheduler() -> SchedulerGateway:
    settings = get_settings()
    return SchedulerGateway(settings, lambda: aws.client_for("scheduler", settings))


@lru_cache(maxsize=1)
def job_service() -> JobService:
    settings = get_settings()
    storage.bind(settings)
    return JobService(settings, scheduler(), registry, queues())


@lru_cache(maxsize=1)
def run_service() -> RunService:
    storage.bind(get_settings())
    return RunService(registry, queues())


@lru_cache(maxsize=1)
def keys() -> KeyService:
    storage.bind(get_settings())
    return KeyService()


@lru_cache(maxsize=1)
def tenants() -> TenantService:
    storage.bind(get_settings())
    return TenantService()


@lru_cache(maxsize=1)
def executor() -> Executor:
    storage.bind(get_settings())
    return Executor(registry, queues())


@lru_cache(maxsize=1)
def firing() -> Firing:
    return Firing(job_service(), queues(), utcnow)


@lru_cache(maxsize=1)
def worker() -> Worker:
    return Worker(firing(), executor(), run_service(), queues(), utcnow)


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
