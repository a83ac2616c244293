"""A job's fire: admission, the run it creates, and the SQS hand-off for second precision.

A fire at scheduled time T is decided on its job by one conditional UpdateItem, then its run
``fire_run_id(job, T)`` is put, conditional on not existing: two calls, no transaction (one
write unit per item, where a transaction costs two) and no GetItem of the job. The schedule's
input (or the SQS message) carries the job's spec, which is all the decision needs beforehand
(window, next fire); the update's condition checks that it is still the job's, that the job is
enabled, not finished, its repeats not used up, and returns the job, which the run is built
from. Only when the condition fails is the job read, to know why.

Exactly once without a transaction: the update remembers the fire on the job item
(``bookkeeping.record_fire``: the last fire admitted in order, and the last four fires), so a
fire is counted once however often it is delivered, and its run exists only once it was
counted. A delivery that finds the fire already decided puts the run if an earlier one failed
before it could (its Lambda failed: EventBridge or SQS delivers it again), or is a duplicate.
A fire that is refused (job deleted, paused, finished, outside its window, overlapping) is
recorded as a SKIPPED run with the reason, never silently dropped.

The one case left ambiguous: a fire counted whose run could not be put, delivered again only
after four later fires of its job were decided; it is then taken for a late fire and counted
again (repeats still cannot be exceeded: the count is conditional on them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.execution import (
    RETENTION,
    RUNNING,
    SKIPPED,
    job_steps,
    lease_shard,
    lease_until,
    put_new,
    running_run,
)
from chalicelib.handoff import WINDOW, plan_fires, send_fire
from chalicelib.ids import fire_run_id
from chalicelib.queues import QueueGateway
from chalicelib.schedules import ScheduleSpec
from chalicelib.schedules.eventbridge import recurring_delivery
from chalicelib.storage import JobModel, RunModel
from chalicelib.storage.bookkeeping import (
    FireRefused,
    last_move,
    read_job_item,
    record_fire,
    remembered,
)
from chalicelib.vocabulary import Delivery, Overlap, Trigger

if TYPE_CHECKING:
    from chalicelib.jobs import JobService

log = logging.getLogger(__name__)
#: Rounds of "read the job, decide again" when it changes under a fire's feet.
SETTLE_ROUNDS = 4
OVERLAP_REMEMBERED = "a run of the job was still running (overlap: skip)"


def _exists(tenant: str, run_id: str) -> bool:
    try:
        RunModel.get(tenant, run_id, consistent_read=True, attributes_to_get=["run_id"])
    except DoesNotExist:
        return False
    return True


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class Firing:
    """Turn schedule fires into runs (or into delayed SQS fires)."""

    def __init__(
        self,
        jobs: Callable[[], JobService],
        queues: QueueGateway,
        clock: Callable[[], datetime],
    ) -> None:
        """``jobs`` gives the job service, built on first use: only a fire that finishes its
        job needs it (issue 19, cold start)."""
        self._jobs = jobs
        self._queues = queues
        self._clock = clock

    def on_schedule(
        self,
        tenant: str,
        job_id: str,
        scheduled_time: datetime,
        schedule_name: str | None,
        spec: dict[str, Any] | None = None,
    ) -> RunModel | None:
        """An EventBridge fire: run it, or (second precision) hand the next fires to SQS.
        ``spec`` is the job's spec as the schedule's input carries it (None in the input of a
        schedule written before it did: the job is read first)."""
        if spec is not None and not _plans_spec(spec, schedule_name):
            return self.admit(tenant, job_id, scheduled_time, None, exact=False, spec=spec)
        job = load_job(tenant, job_id)
        if job is not None and self._plans(job, schedule_name):
            if job.enabled and not job.finished_at:
                now = self._clock()
                job_spec = ScheduleSpec.from_dict(job.spec)
                if (schedule_name or "").endswith("-due") and job_spec.due_at is not None:
                    send_fire(self._queues, job, job_spec.due_at, now)
                else:
                    start = scheduled_time + WINDOW
                    plan_fires(self._queues, job, start, start + WINDOW, now)
            return None
        return self.admit(tenant, job_id, scheduled_time, job, exact=False)

    @staticmethod
    def _plans(job: JobModel, schedule_name: str | None) -> bool:
        """Whether this schedule's fire hands fires to SQS instead of running the job: the
        ``-due`` schedule, or the main one of a sub-minute job (its heartbeat)."""
        return _plans_spec(job.spec, schedule_name)

    def admit(
        self,
        tenant: str,
        job_id: str,
        scheduled_time: datetime,
        job: JobModel | None,
        exact: bool,
        spec: dict[str, Any] | None = None,
    ) -> RunModel | None:
        """Create the fire's run RUNNING (to execute now) or SKIPPED; None for a duplicate.

        ``spec`` (the job's, as the fire's input carries it) or ``job`` (read already) is what
        the decision is made on; with neither, the job is read."""
        run_id = fire_run_id(job_id, _ms(scheduled_time))
        now = self._clock()  # the run's start: when its admission began
        if spec is None and job is not None and job.overlap != Overlap.SKIP:
            spec = job.spec
        if spec is None:  # overlap skip (the running run must be looked up) or an old input
            return self._settle(tenant, job_id, run_id, scheduled_time, exact, now)
        parsed = ScheduleSpec.from_dict(spec)
        if _window_refusal(parsed, scheduled_time, exact) is not None:
            return self._settle(tenant, job_id, run_id, scheduled_time, exact, now)
        try:
            old, finished = self._count(tenant, job_id, scheduled_time, parsed, spec, None, "after")
        except FireRefused as refused:
            return self._settle(tenant, job_id, run_id, scheduled_time, exact, now, refused.item)
        return self._start(old, run_id, scheduled_time, parsed, finished, now)

    def _count(
        self,
        tenant: str,
        job_id: str,
        when: datetime,
        spec: ScheduleSpec,
        stored_spec: dict[str, Any],
        overlap: str | None,
        move: str,
        skip: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Count the fire on its job (conditional: see ``record_fire``); the job item as it
        was, and whether this update also finished the job (nothing can fire after this).
        With ``skip`` the fire is only remembered, as skipped by the overlap policy."""
        now = self._clock()
        following = spec.fires(when, 1)
        count = {
            "last_run_at": JobModel.last_run_at.serialize(when),
            "last_run_id": fire_run_id(job_id, _ms(when)),
            "next_run_at": JobModel.next_run_at.serialize(following[0]) if following else None,
            "finished_at": None if following else JobModel.finished_at.serialize(now),
        }
        old = record_fire(
            tenant,
            job_id,
            _ms(when),
            when_text=JobModel.updated_at.serialize(when),
            spec_text=JobModel.spec.serialize(stored_spec),
            overlap=overlap,
            repeats=spec.repeats,
            move=move,
            count=None if skip else count,
            now_ms=_ms(now),
        )
        return old, not following and not skip

    def _start(
        self,
        old_item: dict[str, Any],
        run_id: str,
        when: datetime,
        spec: ScheduleSpec,
        finished: bool,
        now: datetime,
    ) -> RunModel | None:
        """The fire was counted: put its run (built from the job as the update returned it),
        and finish the job if that was its last fire."""
        job = JobModel.from_raw_data(old_item)
        run = self._running(job, run_id, when, now)
        created = put_new(run)
        if finished:  # the update finished it; its schedules (if any) go now
            if job.schedule_names:
                self._jobs().finish(job)
        elif not spec.fires(when, 1, fired=int(job.fire_count or 0) + 1):
            self._jobs().finish(job)  # repeats used up
        return run if created else self._put_elsewhere(run)

    def _put_counted(
        self, job: JobModel, run_id: str, when: datetime, now: datetime
    ) -> RunModel | None:
        """Put the run of a fire an earlier delivery counted (and failed to put its run)."""
        run = self._running(job, run_id, when, now)
        return run if put_new(run) else self._put_elsewhere(run)

    @staticmethod
    def _put_elsewhere(run: RunModel) -> None:
        """The run's conditional put failed: None if another delivery of the fire put it (it
        saw the fire counted: a duplicate); if the run is not there after all, raise, so that
        the fire is delivered again and the redelivery puts it."""
        if _exists(run.tenant, run.run_id):
            return None
        raise RuntimeError(f"the run {run.run_id} of a counted fire could not be put")

    def _running(self, job: JobModel, run_id: str, when: datetime, now: datetime) -> RunModel:
        return RunModel(
            job.tenant,
            run_id,
            job_id=job.job_id,
            job_key=f"{job.tenant}#{job.job_id}",
            task=job.task,
            steps=job_steps(job),
            data=job.data,
            status=RUNNING,
            queue=job.queue,
            trigger=Trigger.SCHEDULE,
            retry=job.retry,
            timeout_seconds=int(job.timeout_seconds or 300),
            scheduled_time=when,
            queued_at=now,
            started_at=now,
            lease_shard=lease_shard(run_id),
            lease_expires_at=lease_until(now, int(job.timeout_seconds or 300)),
        )

    def _settle(
        self,
        tenant: str,
        job_id: str,
        run_id: str,
        when: datetime,
        exact: bool,
        now: datetime,
        item: dict[str, Any] | None = None,
    ) -> RunModel | None:
        """Decide a fire on the job as it is now: the slow path (a fire of an old input, a
        refusal, a duplicate, a late fire, a job changed since its schedule was written).
        ``item`` is the job's raw item if the failed update returned it."""
        if _exists(tenant, run_id):
            return None  # decided before: a duplicate delivery
        when_ms = _ms(when)
        for _ in range(SETTLE_ROUNDS):
            if item is None:
                item = read_job_item(tenant, job_id)
            job = JobModel.from_raw_data(item) if item else None
            if job is None or item is None:
                return self._skipped(tenant, job_id, run_id, when, "job does not exist", None)
            decided = remembered(item, when_ms)
            if decided == "counted":  # an earlier delivery counted it and failed to put its run
                return self._put_counted(job, run_id, when, now)
            if decided == "skipped":
                return self._skipped(tenant, job_id, run_id, when, OVERLAP_REMEMBERED, job)
            reason = self._refusal(job, when, exact)
            if reason == "repeats used up":
                self._jobs().finish(job)
            overlapping = reason is not None and reason.endswith("(overlap: skip)")
            if reason is not None and not overlapping:
                return self._skipped(tenant, job_id, run_id, when, reason, job)
            spec = ScheduleSpec.from_dict(job.spec)
            move = last_move(item, when_ms)
            try:
                # An overlap skip is remembered first, so a concurrent delivery cannot run it.
                old, finished = self._count(
                    tenant, job_id, when, spec, job.spec, job.overlap, move, skip=overlapping
                )
                if overlapping:
                    assert reason is not None
                    return self._skipped(tenant, job_id, run_id, when, reason, job)
            except FireRefused as refused:
                item = refused.item
                continue
            return self._start(old, run_id, when, spec, finished, now)
        raise RuntimeError(f"job {job_id} kept changing while its fire at {when} was decided")

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
        run_id = fire_run_id(job_id, _ms(scheduled_time))
        return self._skipped(tenant, job_id, run_id, scheduled_time, reason, job)

    def _refusal(self, job: JobModel | None, when: datetime, exact: bool) -> str | None:
        if job is None:
            return "job does not exist"
        if job.finished_at:
            return "job is finished"
        if not job.enabled:
            return "job is paused"
        spec = ScheduleSpec.from_dict(job.spec)
        if spec.repeats is not None and int(job.fire_count or 0) >= spec.repeats:
            return "repeats used up"
        reason = _window_refusal(spec, when, exact)
        if reason is not None:
            return reason
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


def _window_refusal(spec: ScheduleSpec, when: datetime, exact: bool) -> str | None:
    """Why the spec alone refuses a fire at ``when`` (outside its window, or, for a fire sent
    for an exact second, no longer one of its times); None if it does not."""
    if spec.end_at is not None and when > spec.end_at + timedelta(minutes=1):
        return "after the job's end"
    if spec.start_at is not None and when < spec.start_at - timedelta(minutes=1):
        return "before the job's start"
    if exact and spec.upcoming(when, 1) != [when]:
        return "no longer a fire time of the job's schedule (it changed)"
    return None


def _plans_spec(spec: dict[str, Any], schedule_name: str | None) -> bool:
    """Whether a fire of this schedule hands fires to SQS instead of running the job: the
    ``-due`` schedule, or the main one of a sub-minute job (its heartbeat)."""
    if (schedule_name or "").endswith("-due"):
        return True
    return recurring_delivery(ScheduleSpec.from_dict(spec)) == Delivery.PLAN
