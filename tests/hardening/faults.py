"""Fault injection for AWS calls, and the invariants that must hold once upkeep has run.

boto3 and PynamoDB both end in ``botocore.client.BaseClient._make_api_call``; the injector wraps
it (a ``before-call`` event hook would have to be registered on every client, PynamoDB's own
included), records every call and fails the one it is armed for, in one of five ways.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import botocore.client
from botocore.exceptions import ClientError, ReadTimeoutError

from chalicelib import maintenance, schedules, services
from chalicelib.execution import FINAL, utcnow
from chalicelib.jobs import spec_of
from chalicelib.scheduler import schedule_name
from chalicelib.settings import get_settings
from chalicelib.storage import JobModel, RunModel, TenantModel

#: throttle and server: AWS said no; timeout: the request never arrived; lost-reply: it was
#: done, and the answer was lost (the ambiguous case); race: a conditional write lost its race.
KINDS = ("throttle", "server", "timeout", "lost-reply", "race")
_THROTTLE = {
    "dynamodb": "ProvisionedThroughputExceededException",
    "scheduler": "ThrottlingException",
    "sqs": "RequestThrottled",
}
_SERVER = {"dynamodb": "InternalServerError", "scheduler": "InternalServerException"}
_CONDITIONAL = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}


def applies(kind: str, service: str, operation: str, params: dict[str, Any]) -> bool:
    """A race only makes sense for a conditional DynamoDB write."""
    if kind != "race":
        return True
    return operation == "TransactWriteItems" or (
        operation in _CONDITIONAL and "ConditionExpression" in params
    )


def fault(kind: str, service: str, operation: str) -> Exception:
    if kind == "throttle":
        return _client_error(service, operation, _THROTTLE.get(service, "ThrottlingException"), 400)
    if kind == "server":
        return _client_error(service, operation, _SERVER.get(service, "InternalError"), 500)
    if kind in ("timeout", "lost-reply"):
        return ReadTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com/")
    if operation == "TransactWriteItems":
        error = _client_error(service, operation, "TransactionCanceledException", 400)
        error.response["CancellationReasons"] = [{"Code": "ConditionalCheckFailed"}]
        return error
    return _client_error(service, operation, "ConditionalCheckFailedException", 400)


def _client_error(service: str, operation: str, code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@dataclass
class Injector:
    """Records (service, operation) of every AWS call; fails call number ``at`` with ``kind``."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    at: int | None = None
    kind: str = ""
    injected: list[tuple[str, str, str]] = field(default_factory=list)
    recording: bool = False

    def arm(self, at: int | None, kind: str = "") -> None:
        self.calls, self.at, self.kind, self.injected = [], at, kind, []
        self.recording = True

    def disarm(self) -> None:
        self.recording, self.at = False, None

    @contextmanager
    def platform(self) -> Iterator[None]:
        """Calls made by AWS itself in production (Lambda's SQS poller) are not beatless's:
        neither recorded nor failed."""
        recording, self.recording = self.recording, False
        try:
            yield
        finally:
            self.recording = recording

    def intercept(self, original: Any, client: Any, operation: str, params: Any) -> Any:
        if not self.recording:
            return original(client, operation, params)
        service = client.meta.service_model.service_name
        index = len(self.calls)
        self.calls.append((service, operation))
        if index != self.at or not applies(self.kind, service, operation, params):
            return original(client, operation, params)
        self.injected.append((service, operation, self.kind))
        if self.kind == "lost-reply":
            original(client, operation, params)
        raise fault(self.kind, service, operation)


_ACTIVE = Injector()  # the injector in use (a disarmed one outside ``injecting``)


@contextmanager
def injecting() -> Iterator[Injector]:
    global _ACTIVE
    injector = _ACTIVE = Injector()
    original = botocore.client.BaseClient._make_api_call

    def patched(client: Any, operation: str, params: Any) -> Any:
        return injector.intercept(original, client, operation, params)

    botocore.client.BaseClient._make_api_call = patched  # type: ignore[method-assign]
    try:
        yield injector
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
        _ACTIVE = Injector()


# -- recovery: what AWS and the scheduled upkeep do after a failure ----------------------------


def deliver(rounds: int = 30) -> int:
    """Deliver every visible message to the worker's SQS handler; a failed message becomes
    visible again at once (its visibility timeout, fast-forwarded), as SQS would redeliver it."""
    sqs = boto3.client("sqs")
    settings = get_settings()
    handled = 0
    platform = _ACTIVE.platform
    for _ in range(rounds):
        got = 0
        for queue in ("high", "default", "low"):
            with platform():
                url = sqs.get_queue_url(QueueName=settings.queue_name(queue))["QueueUrl"]
                received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = received.get("Messages", [])
            if not messages:
                continue
            records = [
                {"messageId": m["MessageId"], "body": m["Body"], "receiptHandle": ""}
                for m in messages
            ]
            answer = services.worker().handle_sqs({"Records": records})
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            with platform():
                for m in messages:
                    if m["MessageId"] in failed:
                        sqs.change_message_visibility(
                            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                        )
                    else:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got += len(messages)
        handled += got
        if not got:
            break
    return handled


def fire(event: dict[str, Any], attempts: int = 3) -> list[Any]:
    """Invoke the worker with a scheduled fire, and again if it raised, as EventBridge
    Scheduler's retry policy redelivers a failed invocation."""
    outcomes: list[Any] = []
    for _ in range(attempts):
        try:
            outcomes.append(services.worker().handle(dict(event)))
            return outcomes
        except Exception as error:  # the invocation failed: Lambda reports it, EventBridge retries
            outcomes.append(error)
    return outcomes


def recover() -> None:
    """What time and upkeep do: messages delivered, the reconciler, then the reaper far enough
    ahead that every lease and dispatch deadline has passed, then delivery again."""
    deliver()
    maintenance.reconcile()
    for _ in range(3):
        maintenance.reap(utcnow() + timedelta(hours=1))
        if not deliver():
            break


# -- invariants --------------------------------------------------------------------------------


def inconsistencies() -> list[str]:
    """Every way the stored state disagrees with itself (the goal: none). Reads everything:
    a test-only check, never a request path."""
    problems: list[str] = []
    gateway = services.scheduler()
    group = get_settings().schedule_group
    existing: dict[str, str] = {}
    for page in gateway.client.get_paginator("list_schedules").paginate(GroupName=group):
        for item in page["Schedules"]:
            existing[item["Name"]] = item["State"]
    wanted: set[str] = set()
    now = utcnow()
    for job in JobModel.scan():
        if job.finished_at:
            continue
        for planned in schedules.plan(spec_of(job), now):
            name = schedule_name(job.job_id, planned.suffix)
            wanted.add(name)
            if name not in existing:
                problems.append(f"job {job.job_id} lacks its schedule {name}")
            elif existing[name] != ("ENABLED" if job.enabled else "DISABLED"):
                problems.append(f"schedule {name} is {existing[name]}, job enabled={job.enabled}")
    jobs = Counter(job.tenant for job in JobModel.scan())
    counted = {t.tenant: int(t.job_count or 0) for t in TenantModel.scan()}
    for tenant in sorted(set(jobs) | set(counted)):
        if jobs[tenant] != counted.get(tenant, 0):  # the jobs cap's counter (quotas.py)
            problems.append(f"tenant {tenant} counts {counted.get(tenant, 0)}, has {jobs[tenant]}")
    for name in sorted(set(existing) - wanted):
        problems.append(f"schedule {name} has no job")
    for run in RunModel.scan():
        if run.status not in FINAL and run.retry_at is None:
            problems.append(f"run {run.run_id} is still {run.status} after upkeep")
        if run.status not in FINAL and run.retry_at is not None and run.retry_at < now:
            problems.append(f"run {run.run_id} is {run.status}, due {run.retry_at}, not done")
    return problems


def runs_of(job_id: str) -> list[RunModel]:
    return [r for r in RunModel.scan() if r.job_id == job_id]


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None
