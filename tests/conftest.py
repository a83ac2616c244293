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
# The Vitam face holds a submit until the step ends; no test should wait API Gateway's 20 s.
os.environ.setdefault("BEATLESS_VITAM_WAIT_SECONDS", "5")

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
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
def atomic_aws(aws: None) -> Iterator[None]:
    """Each AWS call atomic, as it is in AWS and not in moto's in-process backends (a
    TransactWriteItems from two threads can interleave inside moto); everything between calls
    still interleaves freely, which is where beatless's races live."""
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def atomic(client: Any, operation: str, params: Any) -> Any:
        with lock:
            return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = atomic  # type: ignore[method-assign]
    yield
    botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


ADMIN_KEY = "bl_test-admin-key-of-tenant-default"


class KeyedHTTP:
    """``chalice.test.Client.http`` sending an API key with every request (unless the test
    passes its own ``Authorization``, ``X-API-KEY`` or ``X-Vitam-Key``, or ``key=None``)."""

    def __init__(self, http: Any, key: str | None) -> None:
        self._http = http
        self.key = key

    def as_key(self, key: str | None) -> KeyedHTTP:
        return KeyedHTTP(self._http, key)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = b""
    ) -> Any:
        headers = dict(headers or {})
        given = {h.lower() for h in headers}
        if self.key and not given & {"authorization", "x-api-key", "x-vitam-key"}:
            headers["Authorization"] = f"Bearer {self.key}"
        return self._http.request(method, path, headers=headers, body=body)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def client(aws: None) -> Iterator[KeyedHTTP]:
    """The app over HTTP, as tenant ``default``'s admin."""
    from app import app

    services.keys().create("default", "admin", "test-admin", key=ADMIN_KEY)
    with test_client(app) as http_client:
        yield KeyedHTTP(http_client.http, ADMIN_KEY)


@pytest.fixture
def new_key(client: KeyedHTTP) -> Any:
    """Make a key: ``new_key(tenant, role, owner)`` returns the secret."""

    def make(tenant: str = "default", role: str = "user", owner: str = "") -> str:
        return services.keys().create(tenant, role, owner).key

    return make


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
