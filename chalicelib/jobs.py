"""The jobs service: create, read, list, replace, patch, pause, resume and delete jobs.

Knows nothing of HTTP. Every write is conditional (optimistic locking on ``version``, name
uniqueness through a guard item in the same transaction), and every change to a job is followed
by bringing its EventBridge schedules in step. If the schedule call fails, the item is put back
as it was (and the schedules too, best effort), so a caller never sees a job without its
schedules or schedules without their job; the reconciler mends what a crash leaves behind.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from chalicelib import handoff, quotas, schedules, storage, targets
from chalicelib.auth import Principal
from chalicelib.clock import utcnow
from chalicelib.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from chalicelib.ids import deriving, is_id, new_id
from chalicelib.parameters import Parameter, parameters
from chalicelib.queues import QueueGateway
from chalicelib.scheduler import SchedulerGateway, ScheduleTarget, schedule_name
from chalicelib.schedules.durations import millis
from chalicelib.settings import Settings
from chalicelib.storage import JobModel, JobNameModel, cursors
from chalicelib.storage.bookkeeping import LAST, read_job_item, update_job
from chalicelib.tasks import TaskRegistry
from chalicelib.vocabulary import Overlap, Queue

log = logging.getLogger(__name__)

SCHEDULE_FIELDS = (
    "crontab",
    "schedule",
    "interval",
    "due_time",
    "timezone",
    "start_at",
    "end_at",
    "ttl",
    "repeats",
)
EDITABLE_FIELDS = (
    "name",
    "description",
    "task",
    "target",
    "args",
    "kwargs",
    "data",
    "enabled",
    "queue",
    "overlap",
    "retry",
    "timeout_seconds",
    *SCHEDULE_FIELDS,
)
MAX_PAGE = 100
#: What the worker writes on a job item without bumping its ``version`` (a fire counted or
#: remembered, a trigger's run, the job finished): an edit's whole-item write requires them as
#: it read them, so that it cannot overwrite a fire counted between its read and its write.
WORKER_MARKS = ("fire_count", "total_run_count", "finished_at", LAST)
#: Reads of the job by one edit when fires keep landing between its read and its write.
EDIT_ROUNDS = 4


class _Moved(Conflict):
    """An edit's write found the worker's marks moved since its read (a fire or a trigger
    counted), its version unchanged: the edit is applied again on the job as it is now."""


@dataclass(frozen=True)
class JobPage:
    items: list[JobModel]
    cursor: str | None


def get_job(tenant: str, job_id: str) -> JobModel:
    """One consistent read of a job; NotFound if it does not exist (or is another tenant's)."""
    if not is_id(job_id):  # not one of ours: no need to ask DynamoDB (nor to hit its limits)
        raise NotFound(f"job {job_id[:100]!r} does not exist", {"id": job_id[:100]})
    try:
        return JobModel.get(tenant, job_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"job {job_id!r} does not exist", {"id": job_id}) from None


def parse_schedule(
    fields: Mapping[str, Any], now: datetime, keep_past_due: bool = False
) -> schedules.ScheduleSpec:
    """``parse_spec`` plus the EventBridge translation, with errors as domain errors."""
    try:
        spec = schedules.parse_spec(fields, now, keep_past_due=keep_past_due)
        schedules.plan(spec, now)
    except schedules.NoEquivalentError as error:
        raise Unprocessable(error.field, error.rule) from None
    except schedules.ScheduleError as error:
        raise InvalidRequest(error.field, error.rule) from None
    return spec


def spec_of(job: JobModel) -> schedules.ScheduleSpec:
    return schedules.ScheduleSpec.from_dict(job.spec)


class JobService:
    def __init__(
        self,
        settings: Settings,
        gateway: SchedulerGateway,
        registry: TaskRegistry,
        queues: QueueGateway,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._settings = settings
        self._gateway = gateway
        self._queues = queues
        self._registry = registry
        self._clock = clock

    # -- reads -------------------------------------------------------------------------------

    def get(self, tenant: str, job_id: str) -> JobModel:
        return get_job(tenant, job_id)

    def with_parameters(self, tenant: str, job_id: str) -> tuple[JobModel, list[Parameter]]:
        """The job and its task's keyword parameters, what a form-like face asks (none for a
        job whose task is not registered here, or that calls a target)."""
        job = self.get(tenant, job_id)
        task = self._registry.get(job.task) if job.task else None
        return job, parameters(task)[0] if task is not None else []

    def get_for_change(self, tenant: str, job_id: str, actor: Principal | None) -> JobModel:
        """The job, if ``actor`` may change it: admins any job of their tenant, users the jobs
        they created."""
        return _changeable_by(self.get(tenant, job_id), actor)

    def list(
        self,
        tenant: str,
        limit: int = 50,
        cursor: str | None = None,
        enabled: bool | None = None,
        task: str | None = None,
        name_prefix: str | None = None,
    ) -> JobPage:
        """One page of a tenant's jobs, oldest first: a Query on the tenant's partition (filters
        apply after the key condition, so a filtered page may read more items than it returns)."""
        start = cursors.decode(cursor, {"tenant": tenant})
        condition = None
        if enabled is not None:
            condition = JobModel.enabled == enabled
        if task is not None:
            clause = JobModel.task == task
            condition = clause if condition is None else condition & clause
        if name_prefix is not None:
            clause = JobModel.name.startswith(name_prefix)
            condition = clause if condition is None else condition & clause
        results = JobModel.query(
            tenant,
            filter_condition=condition,
            last_evaluated_key=_key(start) if start else None,
            page_size=limit + 1,
        )
        items, more = cursors.take_page(results, limit)
        next_cursor = (
            cursors.encode({"tenant": tenant, "job_id": items[-1].job_id}) if more else None
        )
        return JobPage(items, next_cursor)

    def preview(self, fields: Mapping[str, Any], count: int) -> dict[str, Any]:
        now = self._clock()
        spec = parse_schedule(fields, now)
        return {
            "expressions": [p.expression for p in schedules.plan(spec, now)],
            "timezone": spec.timezone,
            "path": schedules.path(spec),
            "next": spec.upcoming(now, count),
            "description": schedules.describe(spec),
            "schedule": spec.render(),
        }

    # -- writes ------------------------------------------------------------------------------

    def create(
        self, tenant: str, values: Mapping[str, Any], created_by: str | None = None
    ) -> JobModel:
        now = self._clock()
        job = JobModel(
            tenant, new_id(), created_at=now, created_by=created_by, total_run_count=0, fire_count=0
        )
        self._fill(job, values, now)
        try:
            self._commit(None, job, now)
        except Conflict:
            found = self._own(job, now) if deriving() else None
            if found is None:
                raise
            return found
        return job

    def _own(self, job: JobModel, now: datetime) -> JobModel | None:
        """An idempotent create's retry whose id is taken: the job its failed attempt wrote,
        its schedules synced (create-or-update: what that attempt left undone). None if the id
        is free: the conflict was another job's (its name)."""
        try:
            found = JobModel.get(job.tenant, job.job_id, consistent_read=True)
        except DoesNotExist:
            return None
        self._sync(None, found, now)
        return found

    def replace(
        self,
        tenant: str,
        job_id: str,
        values: Mapping[str, Any],
        version: int | None = None,
        actor: Principal | None = None,
    ) -> JobModel:
        """PUT: the body is the whole job; omitted optional fields take their defaults."""

        def build(old: JobModel, now: datetime) -> JobModel:
            new = self._copy(self._expect_version(old, version))
            self._fill(new, values, now, previous=old)
            return new

        return self._edit(tenant, job_id, actor, build)

    def patch(
        self,
        tenant: str,
        job_id: str,
        changes: Mapping[str, Any],
        version: int | None = None,
        actor: Principal | None = None,
    ) -> JobModel:
        """PATCH: merge ``changes`` into the job. Sending any schedule form replaces the
        schedule form (crontab, schedule, interval, due_time are mutually exclusive)."""

        def build(old: JobModel, now: datetime) -> JobModel:
            new = self._copy(self._expect_version(old, version))
            self._fill(new, self._patched(old, changes), now, previous=old)
            return new

        return self._edit(tenant, job_id, actor, build)

    def _patched(self, old: JobModel, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The PUT body a PATCH of ``old`` with ``changes`` amounts to."""
        values = self.values_of(old)
        # A job runs a task or calls a target: sending one replaces the other.
        if changes.get("target") is not None and "task" not in changes:
            for name in ("task", "args", "kwargs"):
                if name not in changes:
                    values.pop(name, None)
        if changes.get("task") is not None and "target" not in changes:
            values.pop("target", None)
        if any(changes.get(name) is not None for name in ("crontab", "schedule", "interval")):
            for name in ("crontab", "schedule", "interval"):
                values.pop(name, None)
            if "due_time" not in changes:
                values.pop("due_time", None)
        values.update(changes)
        return values

    def put_named(
        self,
        tenant: str,
        name: str,
        values: Mapping[str, Any],
        *,
        overwrite: bool,
        actor: Principal | None = None,
    ) -> JobModel:
        """Create the job called ``name``, or (``overwrite``, or the old one is finished)
        replace it by a new one under the same name, as Dapr's schedule call does: counters,
        fires and relative times start afresh. One validated, conditional write either way,
        so a rejected replacement leaves the old job as it was."""
        old = self.find_by_name(tenant, name)
        if old is None:
            return self.create(tenant, {**values, "name": name}, actor.identity if actor else None)
        if old.finished_at is None and not overwrite:
            if deriving() and old.job_id == new_id():  # an idempotent retry: its own job
                return self._own(old, self._clock()) or old
            raise Conflict(
                f"job {name!r} already exists; send overwrite: true to replace it",
                {"field": "name", "existing_id": old.job_id},
            )
        _changeable_by(old, actor)
        now = self._clock()
        new = self._copy(old)
        for attribute in ("finished_at", "last_run_at", "last_run_id"):
            setattr(new, attribute, None)
        new.total_run_count = new.fire_count = 0
        new.created_at = now
        self._fill(new, {**values, "name": name}, now)
        self._commit(old, new, now)
        return new

    def find_by_name(self, tenant: str, name: str) -> JobModel | None:
        """The job called ``name`` (two consistent reads: the name guard, then the job)."""
        job_id = self._name_owner(tenant, name)
        if job_id is None:
            return None
        try:
            return self.get(tenant, job_id)
        except NotFound:  # the guard outlived its job for a moment (a delete in flight)
            return None

    def delete_named(self, tenant: str, name: str, actor: Principal | None = None) -> bool:
        """Delete the job called ``name``; False if there is none."""
        job = self.find_by_name(tenant, name)
        if job is None:
            return False
        self._commit(_changeable_by(job, actor), None, self._clock())
        return True

    def set_enabled(
        self, tenant: str, job_id: str, enabled: bool, actor: Principal | None = None
    ) -> JobModel:
        def build(old: JobModel, now: datetime) -> JobModel | None:
            if old.enabled == enabled:
                return None
            new = self._copy(old)
            new.enabled = enabled
            new.updated_at = now
            new.next_run_at = self._next_run(new, spec_of(new), now)
            return new

        return self._edit(tenant, job_id, actor, build)

    def _edit(
        self,
        tenant: str,
        job_id: str,
        actor: Principal | None,
        build: Callable[[JobModel, datetime], JobModel | None],
    ) -> JobModel:
        """Read the job, ``build`` its new item from it (None: nothing to change) and commit
        it, conditional on its version and on the worker's marks as read. A fire or trigger
        counted in between (the version unchanged) is not overwritten: the edit is built again
        on the job as it now is, a few times at most, then answered 409 as any conflict."""
        moved: _Moved | None = None
        for _ in range(EDIT_ROUNDS):
            old, unmoved = self._read_for_change(tenant, job_id, actor)
            now = self._clock()
            new = build(old, now)
            if new is None:
                return old
            try:
                self._commit(old, new, now, unmoved)
            except _Moved as error:
                moved = error
                continue
            return new
        assert moved is not None
        raise Conflict(moved.message, moved.details)

    def _read_for_change(
        self, tenant: str, job_id: str, actor: Principal | None
    ) -> tuple[JobModel, Condition]:
        """The job, if ``actor`` may change it (one consistent read of its raw item), and the
        condition that the worker's marks on it are still as read (WORKER_MARKS)."""
        if not is_id(job_id):
            get_job(tenant, job_id)  # raises NotFound without asking DynamoDB
        item = read_job_item(tenant, job_id)
        if item is None:
            raise NotFound(f"job {job_id!r} does not exist", {"id": job_id})
        job = _changeable_by(JobModel.from_raw_data(item), actor)
        conditions = [
            Path(name) == item[name] if name in item else Path(name).does_not_exist()
            for name in WORKER_MARKS
        ]
        unmoved = conditions[0]
        for condition in conditions[1:]:
            unmoved &= condition
        return job, unmoved

    def delete(self, tenant: str, job_id: str, actor: Principal | None = None) -> None:
        old = self.get_for_change(tenant, job_id, actor)
        self._commit(old, None, self._clock())

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def values_of(job: JobModel) -> dict[str, Any]:
        """The editable fields of a stored job, as a PUT body would carry them."""
        values = {
            "name": job.name,
            "description": job.description,
            "task": job.task,
            "target": job.target,
            "args": job.args,
            "kwargs": job.kwargs,
            "data": job.data,
            "enabled": job.enabled,
            "queue": job.queue,
            "overlap": job.overlap,
            "retry": job.retry,
            "timeout_seconds": job.timeout_seconds,
        }
        values.update(job.schedule_input or {})
        return values

    def _fill(
        self,
        job: JobModel,
        values: Mapping[str, Any],
        now: datetime,
        previous: JobModel | None = None,
    ) -> None:
        task, target = values.get("task"), values.get("target")
        timeout = int(values.get("timeout_seconds") or 300)
        if task is not None and target is not None:
            raise InvalidRequest("target", "give task or target, not both")
        if target is not None:
            if values.get("args") or values.get("kwargs"):
                raise InvalidRequest(
                    "args" if values.get("args") else "kwargs", "a target takes no arguments"
                )
            target = targets.check(target, job.tenant, timeout)
            default_queue = Queue.DEFAULT.value
        else:
            definition = self._registry.get(task) if isinstance(task, str) else None
            if definition is None:
                known = ", ".join(t.name for t in self._registry.all() if t.schedulable)
                if task is None:
                    raise InvalidRequest("task", f"is required, or target (tasks: {known})")
                raise InvalidRequest("task", f"{task!r} is not a registered task (known: {known})")
            if not definition.schedulable:
                raise InvalidRequest("task", f"{task!r} cannot be scheduled")
            definition.check_arguments(values.get("args") or [], values.get("kwargs") or {})
            default_queue = definition.queue
        schedule_input = {k: values[k] for k in SCHEDULE_FIELDS if values.get(k) is not None}
        if previous is not None and previous.schedule_input == schedule_input:
            # Unchanged input keeps its resolved spec: "30s" stays the instant it meant, and an
            # interval keeps its phase, whatever else the update changes.
            spec = spec_of(previous)
        else:
            fields, keep = _resolved(schedule_input, previous)
            spec = parse_schedule(fields, now, keep)
            schedule_input["timezone"] = spec.timezone  # as a GET shows it, so PUT(GET) matches
        job.name = values["name"]
        job.description = values.get("description") or ""
        job.task = task
        job.target = target
        job.args = list(values.get("args") or [])
        job.kwargs = dict(values.get("kwargs") or {})
        job.data = values.get("data")
        job.enabled = values.get("enabled", True) is not False
        job.queue = values.get("queue") or default_queue
        job.overlap = values.get("overlap") or Overlap.ALLOW
        job.retry = values.get("retry")
        job.timeout_seconds = timeout
        job.schedule_input = schedule_input
        job.spec = spec.to_dict()
        job.updated_at = now
        job.next_run_at = self._next_run(job, spec, now)

    @staticmethod
    def _next_run(job: JobModel, spec: schedules.ScheduleSpec, now: datetime) -> datetime | None:
        if not job.enabled:
            return None
        # A spec's instants are to the millisecond: a due time of now is now's millisecond.
        fires = spec.upcoming(millis(now), 1, fired=int(job.fire_count or 0))
        return fires[0] if fires else None

    @staticmethod
    def _copy(job: JobModel) -> JobModel:
        return copy.deepcopy(job)

    @staticmethod
    def _expect_version(job: JobModel, version: int | None) -> JobModel:
        if version is not None and version != job.version:
            raise Conflict(
                f"job {job.job_id!r} is at version {job.version}, not {version}; "
                "reload it and retry",
                {"id": job.job_id, "version": job.version},
            )
        return job

    def _write(
        self,
        old: JobModel | None,
        new: JobModel | None,
        capped: bool = True,
        unmoved: Condition | None = None,
    ) -> None:
        """One transaction: the job item (version-checked, and ``unmoved``: the worker's marks
        as an edit read them), the tenant's job count on a create or delete (a create within
        the jobs cap unless not ``capped``: an undo), and the job's name guard(s)."""
        tenant = (new or old).tenant  # type: ignore[union-attr]
        renamed = old is None or new is None or old.name != new.name
        try:
            with TransactWrite(connection=storage.connection()) as tx:
                if new is not None:
                    condition = JobModel.job_id.does_not_exist() if old is None else unmoved
                    tx.save(new, condition=condition)
                else:
                    tx.delete(old)  # type: ignore[arg-type]
                if old is None or new is None:  # PynamoDB sends it last (updates go last)
                    tx.update(
                        **quotas.job_count_change(tenant, 1 if old is None else -1, capped=capped)
                    )
                if renamed and old is not None:
                    tx.delete(
                        JobNameModel(tenant, old.name, job_id=old.job_id),
                        condition=JobNameModel.job_id == old.job_id,
                    )
                if renamed and new is not None:
                    tx.save(
                        JobNameModel(tenant, new.name, job_id=new.job_id),
                        condition=JobNameModel.name.does_not_exist(),
                    )
        except TransactWriteError as error:
            self._raise_write_conflict(error, old, new, unmoved is not None)

    def _raise_write_conflict(
        self,
        error: TransactWriteError,
        old: JobModel | None,
        new: JobModel | None,
        marked: bool = False,
    ) -> None:
        reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
        # A create or delete also moved the tenant's job count: its reason is the last of
        # three (one per item, as DynamoDB gives them; updates go last).
        counted = (old is None or new is None) and len(reasons) == 3
        over_cap = counted and reasons.pop() == "ConditionalCheckFailed" and new is not None
        if reasons and reasons[0] == "ConditionalCheckFailed":
            job = old or new
            if marked and old is not None and _version_is(old):
                raise _Moved(
                    f"job {old.job_id!r} kept being fired during the change; retry",
                    {"id": old.job_id},
                ) from None
            raise Conflict(
                f"job {job.job_id!r} was changed by another request; reload it and retry",  # type: ignore[union-attr]
                {"id": job.job_id},  # type: ignore[union-attr]
            ) from None
        if new is not None and reasons and reasons[-1] == "ConditionalCheckFailed":
            existing = self._name_owner(new.tenant, new.name)
            raise Conflict(
                f"a job named {new.name!r} already exists",
                {"field": "name", "existing_id": existing},
            ) from None
        if over_cap:
            raise quotas.jobs_refused(new.tenant) from None  # type: ignore[union-attr]
        raise ServiceUnavailable("the job store is unavailable; retry shortly") from error

    @staticmethod
    def _name_owner(tenant: str, name: str) -> str | None:
        try:
            return JobNameModel.get(tenant, name, consistent_read=True).job_id
        except DoesNotExist:
            return None

    def _commit(
        self,
        old: JobModel | None,
        new: JobModel | None,
        now: datetime,
        unmoved: Condition | None = None,
    ) -> None:
        """Write the item (an edit's conditional on ``unmoved`` too), then sync the schedules
        (undo the write if the sync fails), then make sure a concurrent writer's schedules did
        not land after ours."""
        if new is not None:
            new.schedule_names = [
                schedule_name(new.job_id, p.suffix) for p in schedules.plan(spec_of(new), now)
            ]
        try:
            self._write(old, new, unmoved=unmoved)
        except (ClientError, BotoCoreError, PynamoDBException) as error:
            if not self._landed(old, new):
                if isinstance(error, TransactWriteError):
                    raise  # a version or name conflict, told by _write's reasons
                raise ServiceUnavailable("the job store is unavailable; retry shortly") from error
            # The write landed and only its answer was lost: go on with the schedules.
        try:
            self._sync(old, new, now)
        except (ClientError, BotoCoreError) as error:
            log.warning("schedule sync failed for job %s: %s", (new or old).job_id, error)  # type: ignore[union-attr]
            self._undo(old, new, now)
            raise ServiceUnavailable(
                "EventBridge Scheduler or SQS is unavailable; the job is unchanged, retry shortly"
            ) from error
        try:
            self._converge(new or old, new, now)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError, PynamoDBException):
            # Our own write and sync are done; what is left is the reconciler's to repair.
            log.warning("could not check job %s for a concurrent write", (new or old).job_id)  # type: ignore[union-attr]

    def _converge(self, key: JobModel, synced: JobModel | None, now: datetime) -> None:
        """Two writers of one job each write the item, then sync its schedules: the item ends
        as the later write, the schedules as the later sync, which may be the other's. So read
        the item back after syncing; if someone wrote since, sync to what is stored. The writer
        that syncs last reads last, so the schedules end as the item does (one GetItem when
        nobody raced, which is almost always)."""
        for _ in range(3):
            try:
                current = JobModel.get(key.tenant, key.job_id, consistent_read=True)
            except DoesNotExist:
                current = None
            if (current is None and synced is None) or (
                current is not None
                and synced is not None
                and current.updated_at == synced.updated_at
            ):
                return
            names = set(synced.schedule_names or []) if synced is not None else set()
            if current is None or current.finished_at:
                for name in sorted(names | set(current.schedule_names or [] if current else [])):
                    self._gateway.delete(name)
            else:
                names |= set(current.schedule_names or [])
                target = ScheduleTarget(current.job_id, current.tenant, current.enabled)
                self._gateway.apply(target, schedules.plan(spec_of(current), now), sorted(names))
            synced = current

    @staticmethod
    def _landed(old: JobModel | None, new: JobModel | None) -> bool:
        """Whether a write whose answer was an error (a timeout, a 5xx) was applied all the
        same: the item reads back as written (``updated_at`` is this write's), or is gone for a
        delete. One consistent read, on the failure path only; False if even that fails."""
        job = new or old
        assert job is not None
        try:
            stored = JobModel.get(job.tenant, job.job_id, consistent_read=True)
        except DoesNotExist:
            return new is None
        except (ClientError, BotoCoreError, PynamoDBException):
            return False
        return new is not None and stored.updated_at == new.updated_at

    def _sync(self, old: JobModel | None, new: JobModel | None, now: datetime) -> None:
        existing = list(old.schedule_names or []) if old is not None else []
        if new is None:
            for name in existing:
                self._gateway.delete(name)
            return
        if old is not None and _schedule_state(old) == _schedule_state(new):
            return  # nothing the schedules carry has changed
        target = ScheduleTarget(new.job_id, new.tenant, new.enabled)
        spec = spec_of(new)
        self._gateway.apply(target, schedules.plan(spec, now), existing)
        window = handoff.initial_window(spec, now) if new.enabled else None
        if window is not None:  # second precision: the API hands SQS the first window itself
            handoff.plan_fires(self._queues, new, *window, now)

    def finish(self, job: JobModel) -> None:
        """Nothing is left to fire (repeats used up, past its end, a one-time job that fired):
        remove its schedules and mark it finished. Its runs stay."""
        for name in job.schedule_names or []:
            self._gateway.delete(name)
        update_job(
            job.tenant,
            job.job_id,
            [
                JobModel.finished_at.set(self._clock()),
                JobModel.schedule_names.set([]),
                JobModel.next_run_at.remove(),
            ],
            JobModel.job_id.exists(),
        )

    def _undo(self, old: JobModel | None, new: JobModel | None, now: datetime) -> None:
        """Put the item back as it was, then the schedules, each best effort."""
        try:
            if new is None:
                assert old is not None
                restored = self._copy(old)
                restored.attribute_values.pop("version", None)  # re-created: version 1
                self._write(None, restored, capped=False)
            elif old is None:
                self._write(new, None)
            else:
                restored = self._copy(old)
                restored.version = new.version
                self._write(new, restored)
        except Exception:  # the reconciler repairs what is left
            log.exception("could not undo the write of job %s", (new or old).job_id)  # type: ignore[union-attr]
            return
        try:
            names = set(old.schedule_names or []) if old else set()
            names |= set(new.schedule_names or []) if new else set()
            if old is None:
                for name in names:
                    self._gateway.delete(name)
            else:
                target = ScheduleTarget(old.job_id, old.tenant, old.enabled)
                self._gateway.apply(target, schedules.plan(spec_of(old), now), sorted(names))
        except Exception:
            log.exception("could not restore the schedules of job %s", (new or old).job_id)  # type: ignore[union-attr]


def _changeable_by(job: JobModel, actor: Principal | None) -> JobModel:
    """``job``, if ``actor`` may change it: admins any job of their tenant, users the jobs
    they created."""
    if actor is not None and not actor.owns(job.created_by):
        raise Forbidden(
            f"job {job.name!r} was created by someone else; a user key changes only its own",
            {"id": job.job_id},
        )
    return job


def _resolved(
    schedule_input: dict[str, Any], previous: JobModel | None
) -> tuple[dict[str, Any], bool]:
    """The input to parse, and whether a past due time in it is kept: a relative
    ``due_time``/``ttl`` the update did not change keeps the instant it was resolved to,
    instead of counting again from now (and a due time that passed stays the fire it was,
    which cannot run twice, instead of becoming a new fire now)."""
    fields = dict(schedule_input)
    if previous is None:
        return fields, False
    before, spec = previous.schedule_input or {}, previous.spec or {}
    for name, resolved in (("due_time", "due_at"), ("ttl", "end_at")):
        if name in fields and fields[name] == before.get(name) and spec.get(resolved):
            fields[name] = spec[resolved]
    carried = fields.get("schedule") == before.get("schedule") and (
        "due_time" not in fields or fields["due_time"] == spec.get("due_at")
    )
    return fields, carried


def _version_is(job: JobModel) -> bool:
    """Whether the stored job is still at ``job``'s version (one consistent read)."""
    try:
        stored = JobModel.get(job.tenant, job.job_id, consistent_read=True)
    except (DoesNotExist, ClientError, BotoCoreError, PynamoDBException):
        return False
    return stored.version == job.version


def _schedule_state(job: JobModel) -> tuple[Any, ...]:
    return (job.spec, job.enabled, list(job.schedule_names or []))


def _key(start: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {"tenant": {"S": start["tenant"]}, "job_id": {"S": start["job_id"]}}
