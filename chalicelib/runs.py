"""The runs service: ad-hoc runs, "run now" triggers, reads, cancellation and manual retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DeleteError, DoesNotExist, PynamoDBException, UpdateError

from chalicelib import quotas, targets
from chalicelib.auth import Principal
from chalicelib.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    condition_failed,
)
from chalicelib.execution import (
    CANCELLED,
    FAILED,
    QUEUED,
    RETENTION,
    RUNNING,
    SKIPPED,
    STEP_INPUTS,
    TIMED_OUT,
    dispatch_lease,
    job_steps,
    put_new,
    running_run,
    utcnow,
)
from chalicelib.ids import deriving, is_id, new_id
from chalicelib.jobs import get_job
from chalicelib.parameters import answers_to_kwargs
from chalicelib.queues import MAX_DELAY, QueueGateway, delay_until
from chalicelib.storage import JobModel, MessageModel, RunModel, cursors
from chalicelib.storage.bookkeeping import update_job
from chalicelib.tasks import TaskRegistry
from chalicelib.vocabulary import Overlap, Queue, RunStatus, Trigger

log = logging.getLogger(__name__)
MAX_STEPS = 50
MAX_LEAD = timedelta(days=7)
STATUSES = tuple(RunStatus)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    cursor: str | None


def steps_of(
    registry: TaskRegistry,
    task: str | None,
    steps: list[Mapping[str, Any]] | None,
    args: list[Any] | None,
    kwargs: Mapping[str, Any] | None,
    target: Mapping[str, Any] | None = None,
    *,
    tenant: str | None = None,
    timeout_seconds: float | None = None,
) -> list[dict[str, Any]]:
    """Normalise a single task, a target or a step list into steps, each naming a registered
    task (with arguments it can be called with) or holding a valid target (admitted by the
    ``tenant``'s settings when given)."""
    given = [name for name, value in (("task", task), ("target", target)) if value is not None]
    if steps:
        given.append("steps")
    if len(given) > 1:
        both = " and ".join(given)
        field = "target" if "target" in given else "task"
        raise InvalidRequest(field, f"give one of task, target or steps, not {both}")
    if not given:
        raise InvalidRequest("task", "give one of task, target or steps")
    if target is not None:
        if args or kwargs:
            raise InvalidRequest("args" if args else "kwargs", "a target takes no arguments")
        raw: list[dict[str, Any]] = [{"target": target}]
        labels = ["target"]
    elif task is not None:
        raw = [{"task": task, "args": list(args or []), "kwargs": dict(kwargs or {})}]
        labels = ["task"]
    else:
        assert steps is not None
        if len(steps) > MAX_STEPS:
            raise InvalidRequest("steps", f"has {len(steps)} steps; at most {MAX_STEPS}")
        raw, labels = [], []
        for i, s in enumerate(steps):
            if s.get("target") is not None:
                if s.get("task") is not None:
                    raise InvalidRequest(f"steps.{i}.target", "give task or target, not both")
                raw.append({"target": s["target"]})
                labels.append(f"steps.{i}.target")
                continue
            raw.append(
                {
                    "task": s.get("task"),
                    "args": list(s.get("args") or []),
                    "kwargs": dict(s.get("kwargs") or {}),
                }
            )
            labels.append(f"steps.{i}.task")
    for label, step in zip(labels, raw, strict=True):
        if "target" in step:
            try:
                step["target"] = targets.check(step["target"], tenant, timeout_seconds)
            except InvalidRequest as error:  # name the step: steps.1.target.url
                field = error.field.replace("target", label, 1)
                raise InvalidRequest(field, error.rule) from None
            continue
        if not isinstance(step["task"], str) or registry.get(step["task"]) is None:
            known = ", ".join(t.name for t in registry.all())
            raise InvalidRequest(
                label, f"{step['task']!r} is not a registered task (known: {known})"
            )
        registry.get(step["task"]).check_arguments(  # type: ignore[union-attr]
            step["args"], step["kwargs"], at=label.rpartition(".")[0]
        )
    return raw


class RunService:
    def __init__(
        self,
        registry: TaskRegistry,
        queues: QueueGateway,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._registry = registry
        self._queues = queues
        self._clock = clock

    # -- creating ----------------------------------------------------------------------------

    def submit(
        self,
        tenant: str,
        steps: list[dict[str, Any]],
        *,
        data: Any = None,
        queue: str | None = None,
        delay_seconds: int | None = None,
        run_at: datetime | None = None,
        retry: dict[str, Any] | None = None,
        timeout_seconds: int = 300,
        job: JobModel | None = None,
        trigger: Trigger = Trigger.API,
        created_by: str | None = None,
        labels: dict[str, Any] | None = None,
    ) -> RunModel:
        """Write a QUEUED run and send it to its queue (delayed up to 15 min; further out, the
        worker re-delays it until it is due)."""
        now = self._clock()
        if delay_seconds is not None and run_at is not None:
            raise InvalidRequest("run_at", "give delay_seconds or run_at, not both")
        if delay_seconds is not None:
            run_at = now + timedelta(seconds=delay_seconds)
        if run_at is not None and run_at - now > MAX_LEAD:
            raise InvalidRequest("run_at", "is more than 7 days away; schedule a job instead")
        quotas.admit_run(tenant)  # before anything is written: a refusal changes nothing
        first = steps[0].get("task")
        queue = queue or (self._registry.get(first).queue if first else Queue.DEFAULT.value)  # type: ignore[union-attr]
        run_id = new_id()
        shard, deadline = dispatch_lease(run_id, max(run_at or now, now))
        run = RunModel(
            tenant,
            run_id,
            job_id=job.job_id if job else None,
            job_key=f"{tenant}#{job.job_id}" if job else None,
            task=steps[0].get("task"),
            steps=steps,
            data=data,
            status=QUEUED,
            queue=queue,
            trigger=trigger,
            retry=retry,
            timeout_seconds=timeout_seconds,
            queued_at=now,
            retry_at=run_at if run_at and run_at > now else None,
            created_by=created_by,
            labels=labels,
            lease_shard=shard,
            lease_expires_at=deadline,
        )
        try:
            written = put_new(run)
        except PynamoDBException:
            _forget(run)  # the write may have landed with its reply lost: take it back
            raise
        if not written and deriving():  # an idempotent retry: the run its first attempt wrote
            run = RunModel.get(tenant, run_id, consistent_read=True)
            if run.status != QUEUED:
                return run  # already sent, and taken by a worker
        elif not written:  # a fresh id taken: never seen, but never answered as a success
            raise Conflict(f"run id {run.run_id} is taken; retry")
        try:
            self._queues.send(
                queue, {"run_id": run.run_id, "tenant": tenant}, delay_until(run_at or now, now)
            )
        except (ClientError, BotoCoreError) as error:
            _forget(run)  # the caller is told it failed: the run must not go ahead
            raise ServiceUnavailable("the queue is unavailable; retry shortly") from error
        return run

    def trigger(
        self,
        tenant: str,
        job_id: str,
        created_by: str | None = None,
        queue: str | None = None,
        answers: Mapping[str, str] | None = None,
        labels: dict[str, Any] | None = None,
    ) -> RunModel:
        """Run a job now, as a new run; with ``overlap: skip`` and a run still going, the new
        run is recorded SKIPPED with the reason. NotFound for a job that does not exist.

        ``answers`` (string values by parameter name, as form-like clients send them) are
        parsed by the task's signature and override the job's kwargs for this run only (an
        InvalidRequest naming ``questions`` and the parameter before anything is written);
        ``labels`` are kept on the run for the face that sent them."""
        job = get_job(tenant, job_id)
        steps = job_steps(job)
        if answers is not None:
            task = self._registry.get(job.task) if job.task else None
            if task is None and answers:
                raise InvalidRequest("questions", "this workflow asks no questions")
            if task is not None:
                kwargs = answers_to_kwargs(task, job.kwargs or {}, answers, "questions")
                task.check_arguments(job.args or [], kwargs)
                steps = [{**steps[0], "kwargs": kwargs}]
        running = running_run(tenant, job.job_id) if job.overlap == Overlap.SKIP else None
        if running is not None:
            now = self._clock()
            run = RunModel(
                tenant,
                new_id(),
                job_id=job.job_id,
                job_key=f"{tenant}#{job.job_id}",
                task=job.task,
                steps=steps,
                data=job.data,
                status=SKIPPED,
                trigger=Trigger.MANUAL,
                queued_at=now,
                ended_at=now,
                expires_at=now + RETENTION,
                created_by=created_by,
                labels=labels,
                reason=f"run {running} is still running (overlap: skip)",
            )
            if not put_new(run) and deriving():
                run = RunModel.get(tenant, run.run_id, consistent_read=True)  # a retry's own
            return run
        run = self.submit(
            tenant,
            steps,
            data=job.data,
            queue=queue or job.queue,
            retry=job.retry,
            timeout_seconds=int(job.timeout_seconds or 300),
            job=job,
            trigger=Trigger.MANUAL,
            created_by=created_by,
            labels=labels,
        )
        if deriving() and job.last_run_id == run.run_id:
            return run  # an idempotent retry of a trigger its first attempt already counted
        try:
            record_job_run(job, run.run_id, self._clock())
        except PynamoDBException:  # the run is queued: a missed counter is no reason to say 503
            log.warning(
                "run %s of job %s queued, but its job counters were not updated",
                run.run_id,
                job.job_id,
                exc_info=True,
            )
        return run

    # -- reading -----------------------------------------------------------------------------

    def get(self, tenant: str, run_id: str) -> RunModel:
        if not is_id(run_id):
            raise NotFound(f"task {run_id[:100]!r} does not exist", {"id": run_id[:100]})
        try:
            return RunModel.get(tenant, run_id, consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"task {run_id!r} does not exist", {"id": run_id}) from None

    def list(
        self,
        tenant: str,
        limit: int = 50,
        cursor: str | None = None,
        status: str | None = None,
        job_id: str | None = None,
        task: str | None = None,
        statuses: tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page:
        """A tenant's runs newest first (Query on the tenant, descending), or one job's (Query
        on the by-job index); status, task and the time range (``since`` <= queued_at <
        ``until``) filter after the key condition."""
        if status is not None and status not in STATUSES:
            raise InvalidRequest("status", f"{status!r} must be one of {', '.join(STATUSES)}")
        if since is not None and until is not None and until <= since:
            raise InvalidRequest("until", "must be after since (the range is empty)")
        if job_id is not None and not is_id(job_id):
            raise InvalidRequest("job_id", f"{job_id[:100]!r} is not a job id")
        condition = None
        if status is not None:
            condition = RunModel.status == status
        elif statuses:
            condition = RunModel.status.is_in(*statuses)
        if task is not None:
            clause = RunModel.task == task
            condition = clause if condition is None else condition & clause
        if since is not None:
            clause = RunModel.queued_at >= since
            condition = clause if condition is None else condition & clause
        if until is not None:
            clause = RunModel.queued_at < until
            condition = clause if condition is None else condition & clause
        if job_id is not None:
            key = f"{tenant}#{job_id}"
            start = cursors.decode(cursor, {"job_key": key})
            results = RunModel.by_job.query(
                key,
                filter_condition=condition,
                scan_index_forward=False,
                last_evaluated_key=_dynamo_key(start, tenant) if start else None,
                page_size=limit + 1,
            )
            mark = {"job_key": key}
        else:
            start = cursors.decode(cursor, {"tenant": tenant})
            results = RunModel.query(
                tenant,
                filter_condition=condition,
                scan_index_forward=False,
                last_evaluated_key=_dynamo_key(start, tenant) if start else None,
                page_size=limit + 1,
            )
            mark = {"tenant": tenant}
        items, more = cursors.take_page(results, limit)
        next_cursor = cursors.encode({**mark, "run_id": items[-1].run_id}) if more else None
        return Page(items, next_cursor)

    def list_with_jobs(
        self, tenant: str, limit: int = 1000
    ) -> list[tuple[RunModel, JobModel | None]]:
        """A tenant's newest runs, each with its job (name and creator only; None for an ad-hoc
        run or a deleted job): one Query and one BatchGetItem per 100 jobs."""
        runs = self.list(tenant, limit=limit).items
        ids = sorted({r.job_id for r in runs if r.job_id})
        jobs = {
            job.job_id: job
            for job in JobModel.batch_get(
                [(tenant, job_id) for job_id in ids],
                attributes_to_get=["tenant", "job_id", "name", "created_by"],
            )
        }
        return [(run, jobs.get(run.job_id or "")) for run in runs]

    def list_for_job(self, tenant: str, job_id: str, **filters: Any) -> Page:
        """One job's runs, newest first, as ``list``; NotFound for a job that does not exist
        (where ``list(job_id=...)``, a filter, answers an empty page)."""
        get_job(tenant, job_id)
        return self.list(tenant, job_id=job_id, **filters)

    def messages(
        self, tenant: str, run_id: str, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """One page of a run's log, oldest first (NotFound for a run that does not exist)."""
        return self.with_messages(tenant, run_id, limit, cursor)[1]

    def with_messages(
        self, tenant: str, run_id: str, limit: int = 100, cursor: str | None = None
    ) -> tuple[RunModel, Page]:
        """The run and one page of its log: one read of the run, one Query of its messages."""
        run = self.get(tenant, run_id)
        key = f"{tenant}#{run.run_id}"
        start = cursors.decode(cursor, {"run_key": key})
        results = MessageModel.query(
            key,
            last_evaluated_key={"run_key": {"S": key}, "seq": {"S": start["seq"]}}
            if start
            else None,
            page_size=limit + 1,
        )
        items, more = cursors.take_page(results, limit)
        next_cursor = cursors.encode({"run_key": key, "seq": items[-1].seq}) if more else None
        return run, Page(items, next_cursor)

    # -- changing ----------------------------------------------------------------------------

    def get_for_change(self, tenant: str, run_id: str, actor: Principal | None) -> RunModel:
        """The run, if ``actor`` may cancel or retry it: admins any run of their tenant, users
        the runs they created, triggered, or that a job they created scheduled."""
        run = self.get(tenant, run_id)
        if actor is None or actor.owns(run.created_by):
            return run
        if run.job_id:
            try:
                job = JobModel.get(tenant, run.job_id, attributes_to_get=["created_by"])
                if actor.owns(job.created_by):
                    return run
            except DoesNotExist:
                pass
        raise Forbidden(
            f"task {run_id!r} was started by someone else; a user key changes only its own",
            {"id": run_id},
        )

    def cancel(
        self,
        tenant: str,
        run_id: str,
        actor: Principal | None = None,
        remove_queued: bool = False,
    ) -> RunModel:
        """QUEUED → CANCELLED at once (it never executes), or with ``remove_queued`` deleted
        (a 404 afterwards; its queue message then finds nothing and is dropped); RUNNING →
        cancel requested (it ends CANCELLED at its next check); anything else is a 409 naming
        the state. The run answered has status CANCELLED when it will never execute."""
        run = self.get_for_change(tenant, run_id, actor)
        now = self._clock()
        try:
            if run.status == QUEUED and remove_queued:
                run.delete(condition=RunModel.status == QUEUED)
                run.status = CANCELLED
                return run
            if run.status == QUEUED:
                run.update(
                    actions=[
                        RunModel.status.set(CANCELLED),
                        RunModel.cancel_requested.set(True),
                        RunModel.ended_at.set(now),
                        RunModel.reason.set("cancelled before it started"),
                        # A run waiting for a retry carries the failure it waits after; the
                        # cancel is its outcome now (the failure stays in ``attempts``).
                        RunModel.exc.remove(),
                        RunModel.error.remove(),
                        RunModel.traceback.remove(),
                        RunModel.retry_at.remove(),
                        RunModel.expires_at.set(now + RETENTION),
                        RunModel.lease_shard.remove(),
                        RunModel.lease_expires_at.remove(),
                    ],
                    condition=RunModel.status == QUEUED,
                )
                return run
            if run.status == RUNNING:
                run.update(
                    actions=[RunModel.cancel_requested.set(True)],
                    condition=RunModel.status == RUNNING,
                )
                return run
        except (UpdateError, DeleteError) as error:
            if not condition_failed(error):
                raise
            # it moved on meanwhile: answer anew
            return self.cancel(tenant, run_id, actor, remove_queued)
        raise Conflict(
            f"task {run_id!r} is {run.status}; only QUEUED or RUNNING tasks can be cancelled",
            {"id": run_id, "status": run.status},
        )

    def retry(self, tenant: str, run_id: str, actor: Principal | None = None) -> RunModel:
        """Re-queue a FAILED or TIMED_OUT run as a new attempt. The attempt that ended is
        already in ``attempts`` (appended by the write that ended it) and stays there; the new
        one is appended when it ends. Until then the top-level ``exc``, ``error``,
        ``traceback`` and ``reason`` describe the failure it waits after, as for an automatic
        retry; its outcome replaces them."""
        run = self.get_for_change(tenant, run_id, actor)
        if run.status not in (FAILED, TIMED_OUT):
            raise Conflict(
                f"task {run_id!r} is {run.status}; only FAILED or TIMED_OUT tasks can be retried",
                {"id": run_id, "status": run.status},
            )
        quotas.admit_run(tenant)
        now = self._clock()
        shard, deadline = dispatch_lease(run.run_id, now)
        try:
            run.update(
                actions=[
                    RunModel.status.set(QUEUED),
                    RunModel.attempt.add(1),
                    RunModel.queued_at.set(now),
                    RunModel.lease_shard.set(shard),
                    RunModel.lease_expires_at.set(deadline),
                    RunModel.trigger.set(Trigger.RETRY),
                    RunModel.steps.set(
                        [{k: s[k] for k in STEP_INPUTS if k in s} for s in run.steps]
                    ),
                    RunModel.ended_at.remove(),
                    RunModel.retry_at.remove(),
                    RunModel.expires_at.remove(),
                ],
                condition=RunModel.status == run.status,
            )
        except UpdateError as error:
            if condition_failed(error):
                raise Conflict(
                    f"task {run_id!r} changed meanwhile; reload it", {"id": run_id}
                ) from None
            raise
        self._queues.send(run.queue, {"run_id": run.run_id, "tenant": tenant}, 0)
        return run


def _forget(run: RunModel) -> None:
    """Delete a QUEUED run the caller is told failed; if even that fails, the run is left for
    the reaper's dispatch sweep (it then runs once, later: at least once, never lost)."""
    try:
        run.delete(condition=RunModel.status == QUEUED)
    except PynamoDBException as error:
        if not condition_failed(error):  # conditional: it was never written, nothing to take back
            log.warning("could not take back run %s", run.run_id, exc_info=True)


def record_job_run(job: JobModel, run_id: str, when: datetime) -> None:
    """Count a run on its job, atomically and without touching the job's version."""
    update_job(
        job.tenant,
        job.job_id,
        [
            JobModel.total_run_count.add(1),
            JobModel.last_run_at.set(when),
            JobModel.last_run_id.set(run_id),
        ],
        JobModel.job_id.exists(),
    )


def _dynamo_key(start: Mapping[str, str], tenant: str) -> dict[str, dict[str, str]]:
    key = {"tenant": {"S": tenant}, "run_id": {"S": start["run_id"]}}
    if "job_key" in start:
        key["job_key"] = {"S": start["job_key"]}
    return key


__all__ = ["MAX_DELAY", "Page", "RunService", "record_job_run", "steps_of"]
