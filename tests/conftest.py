"""Shared fixtures: fake AWS credentials, moto per test, tables and schedule group per test."""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)
os.environ.pop("BEATLESS_AWS_ENDPOINT_URL", None)

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import services, storage
from chalicelib.local.gateway import test_client
from chalicelib.settings import get_settings

pytest_plugins = ["tests.stack"]  # the `stack` fixture: make run as a subprocess


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto world with beatless's tables and schedule group."""
    with mock_aws():
        services.reset()
        settings = get_settings()
        storage.create_tables(settings)
        boto3.client("scheduler").create_schedule_group(Name=settings.schedule_group)
        yield
        services.reset()


@pytest.fixture
def client(aws: None) -> Iterator[Any]:
    from app import app

    with test_client(app) as http_client:
        yield http_client.http


@pytest.fixture
def scheduler(aws: None) -> Any:
    return boto3.client("scheduler")


def schedules_of(scheduler: Any, job_id: str) -> dict[str, dict[str, Any]]:
    """Every schedule of a job, read back from moto in full."""
    group = get_settings().schedule_group
    names = [
        s["Name"]
        for s in scheduler.list_schedules(GroupName=group, NamePrefix=f"job-{job_id}")["Schedules"]
    ]
    return {name: scheduler.get_schedule(Name=name, GroupName=group) for name in names}
