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

from chalicelib import resources, services
from chalicelib.local.gateway import test_client
from chalicelib.settings import get_settings
from tests import testtasks  # noqa: F401  (registers the tests' tasks)

pytest_plugins = ["tests.stack"]  # the `stack` fixture: make run as a subprocess


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto world with beatless's tables and schedule group."""
    with mock_aws():
        services.reset()
        settings = get_settings()
        resources.provision(settings)
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


def drain(rounds: int = 20) -> int:
    """Deliver what the work queues hold to the worker's SQS handler, as Lambda would, until
    they are empty (messages still delayed are not visible yet). Returns messages handled."""
    sqs = boto3.client("sqs")
    settings = get_settings()
    handled = 0
    for _ in range(rounds):
        got = 0
        for queue in ("high", "default", "low"):
            url = sqs.get_queue_url(QueueName=settings.queue_name(queue))["QueueUrl"]
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                continue
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                    }
                    for m in messages
                ]
            }
            failed = {
                f["itemIdentifier"]
                for f in services.worker().handle_sqs(event)["batchItemFailures"]
            }
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got += len(messages)
        handled += got
        if not got:
            return handled
    return handled


def queue_depth(queue: str) -> dict[str, int]:
    """Visible and delayed message counts of a queue (by SQS name)."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }
