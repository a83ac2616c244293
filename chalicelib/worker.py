"""The worker: one entry point for scheduled fires, SQS messages and direct invocations.

Event shapes (docs/operations.md has them all):
- EventBridge Scheduler fire: ``{"job_id", "tenant", "schedule", "scheduled_time", "spec"}``
  (``spec``, the job's schedule spec, lets the fire be decided without reading the job; the
  input of a schedule written before it was carried has none, and the job is read);
- direct ``aws lambda invoke``: ``{"job_id", "tenant"?}`` runs the job now (a manual trigger),
  ``{"run_id", "tenant"}`` executes a queued run;
- SQS batch (``Records``), each body ``{"run_id", "tenant"}`` or
  ``{"kind": "fire", "job_id", "tenant", "scheduled_time", "spec", "timeout_seconds"}``; the
  answer lists the failed messages only (``batchItemFailures``), so one bad message does not
  redeliver its neighbours.

A batch runs inline, one message after the other, inside one Lambda's time. A run is claimed
(a fire admitted) only if the time left covers what it needs (``clock.needed_seconds``);
otherwise that message and the rest of the batch are reported failed, unprocessed, and SQS
delivers them again after their visibility timeout. A batch whose every message failed raises
(``BatchFailed``), so the invocation counts in Lambda's Errors metric and its alarm.

The firing, the executor and the run service are given as factories, called by the first event
that needs each: a run's message loads no schedule code, a fire no job service (issue 19, cold
start). This module itself imports only what every event uses: the storage and the time budget.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist

from chalicelib import logs
from chalicelib.clock import NoTimeLeft, check_time
from chalicelib.errors import NotFound
from chalicelib.queues import QueueGateway, delay_until
from chalicelib.storage import RunModel
from chalicelib.vocabulary import RunStatus

if TYPE_CHECKING:
    from chalicelib.execution import Executor
    from chalicelib.firing import Firing
    from chalicelib.runs import RunService

log = logging.getLogger(__name__)
DEFAULT_TENANT = "default"
MAX_EARLY = 2.0  # seconds a delayed message may arrive before its time (whole-second delays)
QUEUED, RUNNING = RunStatus.QUEUED, RunStatus.RUNNING

__all__ = ["BatchFailed", "NoTimeLeft", "Worker"]


class BatchFailed(Exception):
    """Every message of an SQS batch failed. Raised (after logging each failure) so the
    invocation is an error for Lambda's Errors metric; SQS then delivers the whole batch
    again, which is what ``batchItemFailures`` listing every message would do too."""

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        super().__init__(f"every message of the batch failed ({len(failures)})")
        self.failures = failures


class Worker:
    def __init__(
        self,
        firing: Callable[[], Firing],
        executor: Callable[[], Executor],
        runs: Callable[[], RunService],
        queues: QueueGateway,
        clock: Callable[[], datetime],
    ) -> None:
        self._firing = firing
        self._executor = executor
        self._runs = runs
        self._queues = queues
        self._clock = clock

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda entry point for fires and direct invocations."""
        if "Records" in event:
            return self.handle_sqs(event, context)
        if not isinstance(event, dict) or not (event.get("job_id") or event.get("run_id")):
            return {"error": "expected {job_id, scheduled_time?, tenant?} or {run_id, tenant}"}
        tenant = str(event.get("tenant") or DEFAULT_TENANT)
        remaining = _remaining(context)
        if event.get("run_id"):
            try:
                status = self.execute_run(tenant, str(event["run_id"]), remaining)
            except NoTimeLeft as error:  # still QUEUED: its message or the reaper runs it
                log.warning("run %s not started: %s", event["run_id"], error)
                return {
                    "run_id": event["run_id"],
                    "status": QUEUED,
                    "error": f"not started: {error}",
                }
            return {"run_id": event["run_id"], "status": status}
        job_id = str(event["job_id"])
        if not event.get("scheduled_time"):  # "run this job now" from the AWS CLI
            try:
                run = self._runs().trigger(tenant, job_id, created_by="lambda-invoke")
            except NotFound:
                return {"error": f"job {job_id!r} does not exist in tenant {tenant!r}"}
            return {"run_id": run.run_id, "status": run.status}
        when = parse_time(str(event["scheduled_time"]))
        # The job is read after this check: check against the most any run needs. Raising makes
        # the (asynchronous) invocation fail, so Lambda and the Scheduler deliver it again.
        check_time(None, remaining)
        spec = event.get("spec") if isinstance(event.get("spec"), dict) else None
        run = self._firing().on_schedule(tenant, job_id, when, event.get("schedule"), spec)
        try:
            return self._run_fire(run, remaining)
        except NoTimeLeft:  # admitted, then no time: the run went to its queue
            assert run is not None
            return {"run_id": run.run_id, "status": QUEUED}

    def handle_sqs(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """An SQS batch: each message on its own; failures are reported one by one.

        Once a message finds too little time left, it and every message after it are
        reported unprocessed (they come back). In Lambda (a ``context`` given), a non-empty
        batch whose every message failed raises BatchFailed; without a context (the tests'
        and the fault harness's delivery loops) the answer is returned as it is."""
        records = event.get("Records", [])
        failures: list[dict[str, Any]] = []
        remaining = _remaining(context)
        out_of_time = False
        for index, record in enumerate(records):
            message_id = record.get("messageId")
            if out_of_time:
                failures.append({"itemIdentifier": message_id})
                continue
            try:
                self.handle_message(json.loads(record["body"]), remaining)
            except NoTimeLeft as error:
                log.warning(
                    "message %s not processed (%s): it and the %d after it come back",
                    message_id,
                    error,
                    len(records) - index - 1,
                )
                out_of_time = True
                failures.append({"itemIdentifier": message_id})
            except Exception:
                log.exception("message %s failed", message_id)
                failures.append({"itemIdentifier": message_id})
        if records and len(failures) == len(records) and context is not None:
            log.error("every message of the batch failed (%d): the invocation fails", len(records))
            raise BatchFailed(failures)
        return {"batchItemFailures": failures}

    @logs.of_message  # its tenant, job and run ids on every log line
    def handle_message(self, body: dict[str, Any], remaining: Callable[[], int] | None) -> Any:
        """One message; raises NoTimeLeft, before claiming or admitting anything, when the
        Lambda has too little time left for the run."""
        tenant = str(body.get("tenant") or DEFAULT_TENANT)
        if body.get("kind") == "fire":
            when = parse_time(str(body["scheduled_time"]))
            self.wait_until(when)
            spec = body.get("spec") if isinstance(body.get("spec"), dict) else None
            job = None
            if spec is not None:  # the job's, when the message was sent: no GetItem
                check_time(body.get("timeout_seconds"), remaining)
            else:  # a message sent before messages carried it
                from chalicelib.firing import load_job  # (the next line loads it anyway)

                job = load_job(tenant, str(body["job_id"]))
                if job is not None:  # (a missing job's fire is only recorded SKIPPED)
                    check_time(job.timeout_seconds, remaining)
            run = self._firing().admit(tenant, str(body["job_id"]), when, job, True, spec)
            return self._run_fire(run, remaining)
        return self.execute_run(tenant, str(body["run_id"]), remaining)

    def execute_run(self, tenant: str, run_id: str, remaining: Callable[[], int] | None) -> str:
        """Claim a QUEUED run and execute it; anything else is a duplicate and is ignored.
        Raises NoTimeLeft, the run left (or put back) QUEUED, when there is too little time."""
        try:
            run = RunModel.get(tenant, run_id, consistent_read=True)
        except DoesNotExist:
            return "MISSING"
        if run.status != QUEUED:
            return run.status
        now = self._clock()
        if run.retry_at is not None and (run.retry_at - now).total_seconds() > 1:
            # Not due yet (further than SQS can delay, or redelivered early): wait again.
            self._queues.send(
                run.queue, {"run_id": run_id, "tenant": tenant}, delay_until(run.retry_at, now)
            )
            return QUEUED
        check_time(run.timeout_seconds, remaining)
        if not self._executor().claim(run):
            return run.status
        return self._executor().execute(run, remaining)

    def wait_until(self, when: datetime) -> None:
        """SQS delays are whole seconds, rounded down: wait out the last fraction here, so a
        fire starts at its second, not up to a second early."""
        ahead = (when - self._clock()).total_seconds()
        if 0 < ahead <= MAX_EARLY:
            time.sleep(ahead)

    def _run_fire(
        self, run: RunModel | None, remaining: Callable[[], int] | None
    ) -> dict[str, Any]:
        if run is None:
            return {"status": "DUPLICATE"}
        if run.status != RUNNING:
            return {"run_id": run.run_id, "status": run.status}
        try:
            status = self._executor().execute(run, remaining)
        except NoTimeLeft:
            # Back to QUEUED. A fire delivered again is a duplicate, so the run goes to its
            # queue on its own message (if that send fails, the reaper's dispatch sweep sends it).
            self._send_run(run)
            raise
        return {"run_id": run.run_id, "status": status}

    def _send_run(self, run: RunModel) -> None:
        try:
            self._queues.send(run.queue, {"run_id": run.run_id, "tenant": run.tenant})
        except Exception:
            log.warning("run %s is QUEUED but its message was not sent", run.run_id, exc_info=True)


def parse_time(text: str) -> datetime:
    """A scheduled time as EventBridge writes it (``2030-01-01T09:00:00Z``)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _remaining(context: Any) -> Callable[[], int] | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter if callable(getter) else None
