"""The composition root: builds the services from settings on first use, once per process."""

from __future__ import annotations

from functools import lru_cache

from chalicelib import aws, storage
from chalicelib.jobs import JobService
from chalicelib.scheduler import SchedulerGateway
from chalicelib.settings import get_settings, reset_settings
from chalicelib.tasks import registry


@lru_cache(maxsize=1)
def job_service() -> JobService:
    settings = get_settings()
    storage.bind(settings)
    gateway = SchedulerGateway(settings, lambda: aws.client_for("scheduler", settings))
    return JobService(settings, gateway, registry)


def reset() -> None:
    """Drop every cached setting, client and service (tests, local runtime restarts)."""
    job_service.cache_clear()
    aws.client.cache_clear()
    reset_settings()
