"""The SQS gateway: delayed messages for runs and for second-precision fires.

Message bodies hold ids only (the payload is in DynamoDB):
- ``{"run_id", "tenant"}``: execute a QUEUED run;
- ``{"kind": "fire", "job_id", "tenant", "scheduled_time"}``: a job fire delivered at the second.
SQS delays are whole seconds up to 900, which bounds every delay here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.settings import Settings

MAX_DELAY = 900


def delay_until(when: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``when``, rounded down (the worker waits out the fraction,
    see ``worker.wait_until``), within SQS's 0-900."""
    return max(0, min(MAX_DELAY, math.floor((when - now).total_seconds())))


class QueueGateway:
    """Send messages to beatless's queues; the client is built on first use."""

    def __init__(self, settings: Settings, client_factory: Callable[[], Any]) -> None:
        self._settings = settings
        self._client_factory = client_factory
        self._client: Any = None
        self._urls: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def url(self, name: str) -> str:
        """A queue's URL by SQS name, looked up once per process."""
        if name not in self._urls:
            self._urls[name] = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        return self._urls[name]

    def send(self, queue: str, body: dict[str, Any], delay: int = 0) -> None:
        """Send ``body`` to a beatless queue (``high``, ``default``, ``low``)."""
        self._send(self._settings.queue_name(queue), body, delay)

    def send_failed(self, body: dict[str, Any]) -> None:
        """Park an exhausted run's ids in the dead-letter queue for inspection and redrive."""
        self._send(self._settings.failed_queue, body, 0)

    def _send(self, name: str, body: dict[str, Any], delay: int) -> None:
        self.client.send_message(
            QueueUrl=self.url(name),
            MessageBody=json.dumps(body, separators=(",", ":")),
            DelaySeconds=max(0, min(MAX_DELAY, int(delay))),
        )

    def ensure(self, name: str, attributes: dict[str, str] | None = None) -> str:
        """Create the queue if missing and return its URL (``make run`` and tests)."""
        try:
            return self.url(name)
        except ClientError:
            url = self.client.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
            self._urls[name] = url
            return url
