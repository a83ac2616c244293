"""A job's fire: admission, the run it creates, and the SQS hand-off for second precision.

A fire at scheduled time T creates the run ``fire_run_id(job, T)`` in one transaction with the
job's counters, conditional on the run not existing and on the job still admitting runs: the
same fire delivered twice (or ten times at once) yields one run and one execution. A fire that
is refused (job deleted, paused, finished, outside its window, overlapping) is recorded as a
SKIPPED run with the reason, never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib import storage
from chalicelib.execution import RETENTION, RUNNING, SKIPPED, lease_shard, lease_until, put_new
from chalicelib.handoff import WINDOW, plan_fires, send_fire
from chalicelib.ids import fire_run_id
from chalicelib.jobs import JobService, job_steps, spec_of
from chalicelib.queues import QueueGateway
from chalicelib.runs import running_run
from chalicelib.schedules.eventbridge import recurring_delivery
from chalicelib.storage import JobModel, RunModel
from chalicelib.storage.bookkeeping import job_update
from chalicelib.vocabulary import Delivery, Overlap, Trigger

log = logging.getLogger(__name__)


def _exists(tenant: str, run_id: str) -> bool:
    try:
        RunModel.get(tenant, run_id, consistent_read=True, attributes_to_get=["run_id"])
    except DoesNotExist:
        return False
    return True


def parse_time(text: str) -> datetime:
    """A scheduled time as EventBridge writes it (``2030-01-01T09:00:00Z``)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Firing:
    """Turn schedule fires into runs (or into delayed SQS fires)."""

    def __init__(
        self,
        jobs: JobService,
        queues: QueueGateway,
        clock: Callable[[], datetime],
    ) -> None:
        self._jobs = jobs
        self._queues = queues
        self._clock = clock

    def on_schedule(
        self, tenant: str, job_id: str, scheduled_time: datetime, schedule_name: str | None
    ) -> RunModel | None:
        """An EventBridge fire: run it, or (second precision) hand the next fires to SQS."""
        job = load_job(tenant, job_id)
        if job is not None and self._plans(job, schedule_name):
            if job.enabled and not job.finished_at:
                now = self._clock()
                spec = spec_of(job)
                if (schedule_name or "").endswith("-due") and spec.due_at is not None:
                    send_fire(self._queues, job, spec.due_at, now)
                else:
                    start = scheduled_time + WINDOW
                    plan_fires(self._queues, job, start, start + WINDOW, now)
            return None
        return self.admit(tenant, job_id, scheduled_time, job, exact=False)

    @staticmethod
    def _plans(job: JobModel, schedule_name: str | None) -> bool:
        """Whether this schedule's fire hands fires to SQS instead of running the job: the
        ``-due`` schedule, or the main one of a sub-minute job (its heartbeat)."""
        if (schedule_name or "").endswith("-due"):
            return True
        return recurring_delivery(spec_of(job)) == Delivery.PLAN

    def admit(
        self,
        tenant: str,
        job_id: str,
        scheduled_time: datetime,
        job: JobModel | None,
        exact: bool,
    ) -> RunModel | None:
        """Create the fire's run RUNNING (to execute now) or SKIPPED; None for a duplicate."""
        now = self._clock()
        run_id = fire_run_id(job_id, int(scheduled_time.timestamp() * 1000))
        reason = self._refusal(job, scheduled_time, exact)
        if reason is not None:
            return self._skipped(tenant, job_id, run_id, scheduled_time, reason, job)
        assert job is not None
        spec = spec_of(job)
        count = int(job.fire_count or 0) + 1
        following = spec.fires(scheduled_time, 1, fired=count)
        run = RunModel(
            tenant,
            run_id,
            job_id=job_id,
            job_key=f"{tenant}#{job_id}",
            task=job.task,
            steps=job_steps(job),
            data=job.data,
            status=RUNNING,
            queue=job.queue,
            trigger=Trigger.SCHEDULE,
            retry=job.retry,
            timeout_seconds=int(job.timeout_seconds or 300),
            scheduled_time=scheduled_time,
            queued_at=now,
            started_at=now,
            lease_shard=lease_shard(run_id),
            lease_expires_at=lease_until(now, int(job.timeout_seconds or 300)),
        )
        admits = JobModel.job_id.exists() & (JobModel.enabled == True)  # noqa: E712
        admits &= JobModel.finished_at.does_not_exist()
        if spec.repeats is not None:
            admits &= JobModel.fire_count.does_not_exist() | (JobModel.fire_count < spec.repeats)
        bookkeeping = job_update(
            tenant,
            job_id,
            [
                JobModel.total_run_count.add(1),
                JobModel.fire_count.add(1),
                JobModel.last_run_at.set(scheduled_time),
                JobModel.last_run_id.set(run_id),
                JobModel.next_run_at.set(following[0] if following else None),
            ],
            admits,
        )
        try:
            storage.connection().transact_write_items(
                condition_check_items=[],
                delete_items=[],
                put_items=[run.get_save_kwargs_from_instance(RunModel.run_id.does_not_exist())],
                update_items=[bookkeeping],
            )
        except TransactWriteError as error:
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                if _exists(tenant, run_id):
                    return None  # a duplicate delivery: the first one owns the run
                raise  # the run is not there after all: fail, so the fire is delivered again
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                fresh = load_job(tenant, job_id)
                why = self._refusal(fresh, scheduled_time, exact) or "repeats used up"
                if fresh is not None and why == "repeats used up":
                    self._jobs.finish(fresh)
                return self._skipped(tenant, job_id, run_id, scheduled_time, why, fresh)
            raise
        if not following:
            self._jobs.finish(job)
        return run

    def record_missed(
        self,
        tenant: str,
        job_id: str,
        scheduled_time: datetime,
        schedule_name: str | None,
        reason: str,
    ) -> RunModel | None:
        """Record a fire that fell due while nothing could fire it (``make run`` stopped) as a
        SKIPPED run with ``reason``. None if that fire already has a run, or if the schedule
        named only plans fires (its missed beats are no fires of the job); ``schedule_name`` is
        None for a fire that was handed to SQS."""
        job = load_job(tenant, job_id)
        if schedule_name is not None and job is not None and self._plans(job, schedule_name):
            return None
        run_id = fire_run_id(job_id, int(scheduled_time.timestamp() * 1000))
        return self._skipped(tenant, job_id, run_id, scheduled_time, reason, job)

    def _refusal(self, job: JobModel | None, when: datetime, exact: bool) -> str | None:
        if job is None:
            return "job does not exist"
        if job.finished_at:
            return "job is finished"
        if not job.enabled:
            return "job is paused"
        spec = spec_of(job)
        if spec.repeats is not None and int(job.fire_count or 0) >= spec.repeats:
            return "repeats used up"
        if spec.end_at is not None and when > spec.end_at + timedelta(minutes=1):
            return "after the job's end"
        if spec.start_at is not None and when < spec.start_at - timedelta(minutes=1):
            return "before the job's start"
        if exact and spec.upcoming(when, 1) != [when]:
            return "no longer a fire time of the job's schedule (it changed)"
        if job.overlap == Overlap.SKIP:
            running = running_run(job.tenant, job.job_id)
            if running is not None:
                return f"run {running} is still running (overlap: skip)"
        return None

    def _skipped(
        self,
        tenant: str,
        job_id: str,
        run_id: str,
        scheduled_time: datetime,
        reason: str,
        job: JobModel | None,
    ) -> RunModel | None:
        now = self._clock()
        run = RunModel(
            tenant,
            run_id,
            job_id=job_id,
            job_key=f"{tenant}#{job_id}",
            task=job.task if job else None,
            steps=job_steps(job) if job else [],
            status=SKIPPED,
            trigger=Trigger.SCHEDULE,
            scheduled_time=scheduled_time,
            queued_at=now,
            ended_at=now,
            reason=reason,
            expires_at=now + RETENTION,
        )
        log.info("fire of job %s at %s skipped: %s", job_id, scheduled_time, reason)
        return run if put_new(run) else None


def load_job(tenant: str, job_id: str) -> JobModel | None:
    try:
        return JobModel.get(tenant, job_id, consistent_read=True)
    except DoesNotExist:
        return None
