"""Local stand-ins for what moto stores but never runs: EventBridge Scheduler firing schedules,
the SQS event source feeding the worker, and the scheduled reaper.

They call the same worker entry points with the same event shapes AWS uses, so ``make run``
exercises the code that runs deployed. One difference, on purpose: a schedule fires at its exact
second here, where EventBridge fires somewhere inside the scheduled minute.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.clock import utcnow
from chalicelib.local.state import Activity
from chalicelib.schedules.cron import parse_aws
from chalicelib.schedules.nextfire import cron_fires

log = logging.getLogger("local-runtime")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((.+)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def next_fire(schedule: dict[str, Any], after: datetime) -> datetime | None:
    """When EventBridge would next fire ``schedule`` (a GetSchedule answer) strictly after
    ``after``; None once it is done."""
    expression = schedule["ScheduleExpression"]
    tz = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    start, end = schedule.get("StartDate"), schedule.get("EndDate")
    if match := _AT.match(expression):
        local = datetime.fromisoformat(match.group(1)).replace(tzinfo=tz)
        when = local.astimezone(UTC)
        return when if when > after else None
    if start is not None:
        after = max(after, start - timedelta(microseconds=1))
    if match := _RATE.match(expression):
        period = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2).rstrip("s")])
        anchor = start or schedule["CreationDate"]
        k = max(0, int((after - anchor) / period))
        when = anchor + period * k
        while when <= after:
            when += period
    elif match := _CRON.match(expression):
        when = next(cron_fires(parse_aws(match.group(1)), tz, after), None)
    else:
        return None
    if when is None or (end is not None and when > end):
        return None
    return when


def scheduled_input(schedule: dict[str, Any], when: datetime) -> dict[str, Any]:
    """The target Input with the context attributes substituted, as EventBridge does."""
    text = schedule["Target"].get("Input") or "{}"
    text = text.replace("<aws.scheduler.scheduled-time>", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    text = text.replace("<aws.scheduler.schedule-arn>", schedule.get("Arn", ""))
    text = text.replace("<aws.scheduler.attempt-number>", "1")
    return json.loads(text)


@dataclass
class _Entry:
    schedule: dict[str, Any]
    modified: Any
    next: datetime | None


class LocalScheduler:
    """Polls the group's schedules and fires each one at its time."""

    def __init__(
        self,
        client: Any,
        group: str,
        invoke: Callable[[dict[str, Any]], Any],
        pool: ThreadPoolExecutor,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._group = group
        self._invoke = invoke
        self._pool = pool
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def refresh(self) -> None:
        """Pick up created, changed and deleted schedules."""
        seen: dict[str, Any] = {}
        for page in self._client.get_paginator("list_schedules").paginate(GroupName=self._group):
            for summary in page["Schedules"]:
                seen[summary["Name"]] = summary.get("LastModificationDate")
        for name in list(self._entries):
            if name not in seen:
                del self._entries[name]
        now = self._clock()
        for name, modified in seen.items():
            entry = self._entries.get(name)
            if entry is not None and entry.modified == modified:
                continue
            try:
                schedule = self._client.get_schedule(Name=name, GroupName=self._group)
            except Exception:  # deleted between the list and the get
                continue
            after = now - timedelta(seconds=1) if entry is None else now
            self._entries[name] = _Entry(schedule, modified, next_fire(schedule, after))

    def tick(self) -> int:
        """Fire what is due; returns how many fires were sent."""
        now = self._clock()
        fired = 0
        for name, entry in list(self._entries.items()):
            when = entry.next
            if when is None or when > now:
                continue
            schedule = entry.schedule
            if schedule.get("State") != "DISABLED":
                self._pool.submit(self._fire, name, schedule, when)
                fired += 1
            entry.next = next_fire(schedule, when)
            if entry.next is None and schedule.get("ActionAfterCompletion") == "DELETE":
                self._client.delete_schedule(Name=name, GroupName=self._group)
                del self._entries[name]
        return fired

    def _fire(self, name: str, schedule: dict[str, Any], when: datetime) -> None:
        try:
            self._invoke(scheduled_input(schedule, when))
        except Exception:
            log.exception("worker failed on the fire of %s at %s", name, when)


class LambdaContext:
    """The part of a Lambda context the worker reads: the time left before the timeout."""

    def __init__(self, timeout_seconds: float) -> None:
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


class SqsPump:
    """The SQS event source: long-polls a queue and hands each message to the worker as a
    one-record Lambda SQS event with a Lambda context (the deployed queue functions' 900 s),
    deleting it unless the worker reports it failed or raises (a failed invocation: Lambda
    leaves the batch for redelivery after its visibility timeout)."""

    def __init__(
        self,
        client: Any,
        queue_url: str,
        handle: Callable[[dict[str, Any], Any], dict[str, Any]],
        pool: ThreadPoolExecutor,
        timeout_seconds: float = 900,
        activity: Activity | None = None,
    ) -> None:
        self._activity = activity
        self._client = client
        self._url = queue_url
        self._handle = handle
        self._pool = pool
        self._timeout = timeout_seconds
        self._arn = "arn:aws:sqs:local:000000000000:" + queue_url.rsplit("/", 1)[-1]

    def poll(self, wait_seconds: int = 1) -> int:
        """Receive what is visible now; if nothing, wait up to ``wait_seconds`` for a send
        (``activity``), or long-poll moto when there is no activity counter to wait on."""
        seen = self._activity.seen() if self._activity is not None else 0
        messages = self._client.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0 if self._activity is not None else wait_seconds,
        ).get("Messages", [])
        for message in messages:
            self._pool.submit(self._deliver, message)
        if not messages and self._activity is not None:
            # Delayed messages and expired visibility timeouts send nothing: wake at the latest
            # after ``wait_seconds``, as a long poll would.
            self._activity.wait(seen, wait_seconds)
        return len(messages)

    def _deliver(self, message: dict[str, Any]) -> None:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
        }
        try:
            answer = self._handle({"Records": [record]}, LambdaContext(self._timeout))
            failed = answer.get("batchItemFailures")
        except Exception as error:
            if getattr(error, "failures", None) is not None:  # the worker's BatchFailed
                log.warning("message %s failed: %s", message["MessageId"], error)
            else:
                log.exception("worker failed on message %s", message["MessageId"])
            return  # left for redelivery after its visibility timeout
        if not failed:
            self._client.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


class Loop(threading.Thread):
    """Run ``step`` every ``interval`` seconds until stopped; a failing step is logged."""

    def __init__(self, name: str, step: Callable[[], Any], interval: float, stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._step = step
        self._interval = interval
        self._stop_event = stop

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._step()
            except Exception:
                log.exception("%s failed", self.name)
            self._stop_event.wait(self._interval)
