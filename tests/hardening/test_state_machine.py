"""A hypothesis state machine over the service, with a controlled clock (issue 13).

The system under test is the real service stack (JobService, RunService, Firing, Executor,
Worker) on moto, with time in our hands: the clock is a variable, EventBridge Scheduler is
simulated by firing moto's stored schedules at their times (``standins.next_fire``, the same
function ``make run`` uses), and SQS is an in-memory queue that honours delays on that clock.
Each rule is a user request or a clock advance; after each one, every event due by then is
delivered in time order, as the deployed system would, and the invariants are checked against a
small reference model that computes fire times by plain arithmetic:

- every fire that was due while the job was enabled has run exactly once, and no other has
  (nothing while paused, after delete, past the end, past the repeats);
- a manual trigger runs once unless cancelled first; a retried run runs once more;
- a rejected request changes nothing;
- run states only move forward ((attempt, QUEUED < RUNNING < final) never goes back);
- the tenant's job count (the jobs cap's counter) is the number of its live jobs, and a create
  at the cap is refused (QuotaExceeded) and changes nothing;
- a job counts each fire once (its ``fire_count`` is the number of its fires that ran), also
  when a fire's delivery failed between its two writes (the count and the run's put: issue 17)
  and was delivered again, as EventBridge and SQS do.

A few hundred steps in ``make test``; ``make fuzz`` (BEATLESS_FUZZ_EXAMPLES) runs thousands.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ReadTimeoutError
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)
from moto import mock_aws

from chalicelib import resources, services, storage
from chalicelib.api.errors import http_status
from chalicelib.errors import BeatlessError, QuotaExceeded
from chalicelib.execution import Executor
from chalicelib.firing import Firing
from chalicelib.jobs import JobService
from chalicelib.local.standins import next_fire, scheduled_input
from chalicelib.queues import QueueGateway
from chalicelib.runs import RunService
from chalicelib.scheduler import SchedulerGateway
from chalicelib.settings import MAX_JOBS_ENV, get_settings, reset_settings
from chalicelib.storage import JobModel, TenantModel
from chalicelib.tasks import registry
from chalicelib.worker import Worker

EXAMPLES = int(os.environ.get("BEATLESS_FUZZ_EXAMPLES", "5"))
QUICK = EXAMPLES <= 5
STEPS = 30 if QUICK else 60
#: Requests at .5 s (and a few microseconds: a real clock is finer than the stored instants),
#: fires at whole seconds.
START = datetime(2030, 3, 4, 10, 0, 0, 500123, tzinfo=UTC)
TENANT = "default"
RANK = {"QUEUED": 0, "RUNNING": 1}
#: The jobs cap in the machine: low, so that creates meet it (runs in flight are not capped).
JOB_CAP = 3
VOLATILE = ("LastModificationDate", "ResponseMetadata")  # not part of what a schedule is

#: What the state machine's task saw: one entry per execution.
EXECUTIONS: list[dict[str, Any]] = []


@registry.register("tests.machine")
def machine_task(ctx: Any, fail: bool = False) -> str:
    """Record the execution (run, attempt, scheduled time, the controlled clock's now)."""
    EXECUTIONS.append(
        {
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "job_id": ctx.job_id,
            "scheduled_time": ctx.scheduled_time,
            "at": Clock.now,
        }
    )
    if fail:
        raise RuntimeError("asked to fail")
    return "ok"


class Clock:
    now = START

    def __call__(self) -> datetime:
        return Clock.now


class FakeSQS:
    """The SQS calls QueueGateway makes, with delays counted on the controlled clock."""

    def __init__(self) -> None:
        self.pending: list[tuple[datetime, int, str, dict[str, Any]]] = []
        self._seq = itertools.count()

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": QueueName}

    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict:
        body = json.loads(MessageBody)
        visible = Clock.now + timedelta(seconds=DelaySeconds)
        if body.get("kind") == "fire":  # the worker waits out the sub-second rest itself
            visible = max(visible, _instant(body["scheduled_time"]))
        heapq.heappush(self.pending, (visible, next(self._seq), QueueUrl, body))
        return {"MessageId": str(len(self.pending))}


class FireFault:
    """Fails one write of the next fire, once: ``count`` (the job's conditional update) or
    ``put`` (the run's put), either before it reaches DynamoDB or, ``lost``, after it was
    applied, its answer lost. The delivery then fails, and is delivered again."""

    def __init__(self) -> None:
        self.armed: tuple[str, bool] | None = None
        self.fired = False
        self._original = botocore.client.BaseClient._make_api_call

    def install(self) -> None:
        fault = self

        def call(client: Any, operation: str, params: Any) -> Any:
            return fault.intercept(client, operation, params)

        botocore.client.BaseClient._make_api_call = call  # type: ignore[method-assign]

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]

    def intercept(self, client: Any, operation: str, params: Any) -> Any:
        if self.armed is not None and self._matches(self.armed[0], operation, params):
            lost = self.armed[1]
            self.armed, self.fired = None, True
            if lost:
                self._original(client, operation, params)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
        return self._original(client, operation, params)

    @staticmethod
    def _matches(where: str, operation: str, params: Any) -> bool:
        if where == "count":
            return operation == "UpdateItem" and "fired_" in str(params.get("UpdateExpression"))
        item = params.get("Item", {}) if operation == "PutItem" else {}
        return item.get("status", {}).get("S") == "RUNNING" and "scheduled_time" in item


def _tick() -> None:
    """Each request comes a millisecond after what came before, so no request shares an
    instant with a fire (fires are at whole seconds or at a request's own instant)."""
    Clock.now += timedelta(milliseconds=1)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the reference model -----------------------------------------------------------------------

RECURRING = {
    "every-20s": {"interval": {"every": 20, "period": "seconds"}},
    "every-1m": {"interval": {"every": 1, "period": "minutes"}},
    "every-2m": {"interval": {"every": 2, "period": "minutes"}},
    "cron-2m": {"schedule": "*/2 * * * *"},
    "cron-20s": {"schedule": "*/20 * * * * *"},
}
PERIODS = {"every-20s": 20, "every-1m": 60, "every-2m": 120, "cron-2m": 120, "cron-20s": 20}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONCE = {"0s": 0, "PT0S": 0, "past": -30, "7s": 7, "45s": 45}


@dataclass
class ModelJob:
    job_id: str
    created: datetime
    recurring: str | None
    due_at: datetime | None
    repeats: int | None
    end_at: datetime | None
    fail: bool
    anchor: datetime  # interval phase: the creation second (or the due time's)
    paused: list[list[datetime | None]] = field(default_factory=list)  # [from, until)
    deleted_at: datetime | None = None

    def enabled_at(self, t: datetime) -> bool:
        if self.deleted_at is not None and t >= self.deleted_at:
            return False
        return not any(p[0] <= t and (p[1] is None or t < p[1]) for p in self.paused)

    def schedule_times(self, until: datetime) -> list[datetime]:
        """The spec's fire times up to ``until``, by plain arithmetic: each recurring form is
        "every P seconds, in phase with B" (the crons with the epoch, intervals with their
        anchor)."""
        times = [self.due_at] if self.due_at is not None and self.due_at <= until else []
        if self.recurring is not None:
            period, base = PERIODS[self.recurring], EPOCH
            if self.recurring.startswith("every-"):
                base = self.anchor
            after = self.due_at or self.created
            k = (after - base) // timedelta(seconds=period) + 1
            t = base + timedelta(seconds=period * k)
            while t <= until:
                times.append(t)
                t += timedelta(seconds=period)
        return [t for t in times if self.end_at is None or t <= self.end_at]

    def expected(self, now: datetime) -> list[datetime]:
        """Fires that must have run by ``now``: due while enabled (a due time missed while
        paused runs at the resume), the first ``repeats`` of them."""
        out = []
        for t in self.schedule_times(now):
            if self.enabled_at(t) or (t == self.due_at and self._resumed_after(t, now)):
                out.append(t)
        return sorted(out)[: self.repeats] if self.repeats else sorted(out)

    def _resumed_after(self, t: datetime, now: datetime) -> bool:
        for start, until in self.paused:
            if start <= t and until is not None and t < until <= now:
                return self.deleted_at is None or until < self.deleted_at
        return False


class ServiceMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")
    runs = Bundle("runs")

    @initialize()
    def start(self) -> None:
        EXECUTIONS.clear()
        Clock.now = START
        os.environ[MAX_JOBS_ENV] = str(JOB_CAP)
        reset_settings()
        self.mock = mock_aws()
        self.mock.start()
        services.reset()
        cfg = get_settings()
        resources.provision(cfg)
        storage.bind(cfg)
        clock = Clock()
        self.sqs = FakeSQS()
        queues = QueueGateway(cfg, lambda: self.sqs)
        self.scheduler = boto3.client("scheduler")
        self.group = cfg.schedule_group
        self.jobs_service = JobService(
            cfg, SchedulerGateway(cfg, lambda: self.scheduler), registry, queues, clock
        )
        self.runs_service = RunService(registry, queues, clock)
        executor = Executor(registry, queues, clock)
        firing = Firing(lambda: self.jobs_service, queues, clock)
        self.worker = Worker(
            lambda: firing, lambda: executor, lambda: self.runs_service, queues, clock
        )
        self.model: dict[str, ModelJob] = {}
        self.triggered: dict[str, str] = {}  # run id -> "queued" | "cancelled"
        self.retried: dict[str, int] = {}  # run id -> retries asked
        self.seen: dict[str, tuple[int, int, str]] = {}
        self.entries: dict[str, tuple[dict[str, Any], datetime | None]] = {}
        self.fault = FireFault()
        self.fault.install()

    def teardown(self) -> None:
        fault = getattr(self, "fault", None)
        if fault is not None:
            fault.uninstall()
        mock = getattr(self, "mock", None)
        if mock is not None:
            mock.stop()
            services.reset()
        os.environ.pop(MAX_JOBS_ENV, None)
        reset_settings()

    # -- the simulated AWS ---------------------------------------------------------------------

    def _refresh_schedules(self) -> None:
        """Pick up created, changed and deleted schedules, as the local stand-in does."""
        seen = {}
        for page in self.scheduler.get_paginator("list_schedules").paginate(GroupName=self.group):
            for summary in page["Schedules"]:
                seen[summary["Name"]] = self.scheduler.get_schedule(
                    Name=summary["Name"], GroupName=self.group
                )
        for name in list(self.entries):
            if name not in seen:
                del self.entries[name]
        for name, schedule in seen.items():
            key = {k: v for k, v in schedule.items() if k not in VOLATILE}
            old = self.entries.get(name)
            if old is not None and old[0] == key:
                continue
            self.entries[name] = (key, next_fire(schedule, Clock.now))

    def _deliver_until(self, target: datetime) -> None:
        """Deliver every schedule fire and SQS message due by ``target``, in time order."""
        for _ in range(10_000):
            self._refresh_schedules()
            fires = [
                (when, name)
                for name, (schedule, when) in self.entries.items()
                if when is not None and when <= target and schedule.get("State") == "ENABLED"
            ]
            message = self.sqs.pending[0] if self.sqs.pending else None
            if message is not None and message[0] > target:
                message = None
            if not fires and message is None:
                Clock.now = max(Clock.now, target)
                return
            first_fire = min(fires) if fires else None
            if first_fire is not None and (message is None or first_fire[0] <= message[0]):
                when, name = first_fire
                Clock.now = max(Clock.now, when)
                schedule = self.entries[name][0]
                self.entries[name] = (schedule, next_fire(schedule, when))
                event = scheduled_input(schedule, when)
                self._delivered(lambda e=event: self.worker.handle(dict(e)))
                continue
            visible, _, _, body = heapq.heappop(self.sqs.pending)
            Clock.now = max(Clock.now, visible)
            record = {"messageId": "m", "body": json.dumps(body)}

            def handle(record: dict[str, Any] = record) -> None:
                failed = self.worker.handle_sqs({"Records": [record]})["batchItemFailures"]
                if failed:
                    raise RuntimeError(f"a message failed: {record['body']}")

            self._delivered(handle)
        raise AssertionError("events did not settle")

    def _delivered(self, deliver: Any) -> None:
        """Deliver; a delivery that failed on an injected fault is delivered again at once (a
        Lambda error: EventBridge retries the invocation, SQS the message)."""
        for _ in range(3):
            self.fault.fired = False
            try:
                deliver()
                return
            except Exception:
                if not self.fault.fired:
                    raise
        raise AssertionError("a fire failed three times")

    def _settle(self) -> None:
        self._deliver_until(Clock.now)

    # -- rules: requests -----------------------------------------------------------------------

    @rule(
        target=jobs,
        form=st.sampled_from([None, *RECURRING]),
        due=st.sampled_from([None, *ONCE]),
        repeats=st.sampled_from([None, 1, 2, 3]),
        ttl=st.sampled_from([None, 150]),
        fail=st.booleans(),
    )
    def create(
        self, form: str | None, due: str | None, repeats: int | None, ttl: int | None, fail: bool
    ) -> str:
        _tick()
        now = Clock.now
        values: dict[str, Any] = {
            "name": f"job-{len(self.model)}",
            "task": "tests.machine",
            "kwargs": {"fail": fail},
        }
        if form is not None:
            values.update(RECURRING[form])
        if due is None and form is None:
            due = "0s"
        if due is not None:
            offset = ONCE[due]
            values["due_time"] = (
                due
                if due in ("0s", "PT0S", "7s", "45s")
                else (now + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
            )
        if repeats is not None and (form is not None or repeats == 1):
            values["repeats"] = repeats
        if ttl is not None and form is not None:
            values["ttl"] = f"{ttl}s"
        if self._live_jobs() >= JOB_CAP:
            before = list(JobModel.query(TENANT))
            with pytest.raises(QuotaExceeded):
                self.jobs_service.create(TENANT, values)
            assert [j.attribute_values for j in JobModel.query(TENANT)] == [
                j.attribute_values for j in before
            ]
            return multiple()
        job = self.jobs_service.create(TENANT, values)
        due_at = None
        if due is not None:
            due_at = max(now + timedelta(seconds=ONCE[due]), now)
            if due == "past":  # written to the second: resolves to now (it passed)
                due_at = now
            due_at = due_at.replace(microsecond=due_at.microsecond // 1000 * 1000)
        model = ModelJob(
            job_id=job.job_id,
            created=now,
            recurring=form,
            due_at=due_at,
            repeats=values.get("repeats"),
            end_at=max(due_at or now, now) + timedelta(seconds=ttl) if "ttl" in values else None,
            fail=fail,
            anchor=(due_at or now).replace(microsecond=0),
        )
        self.model[job.job_id] = model
        expected_next = model.expected(now + timedelta(days=1))
        assert job.next_run_at == (expected_next[0] if expected_next else None), (
            job.next_run_at,
            expected_next[:2],
        )
        self._settle()
        return job.job_id

    def _live_jobs(self) -> int:
        return sum(1 for m in self.model.values() if m.deleted_at is None)

    @invariant()
    def the_job_count_is_the_live_jobs(self) -> None:
        if not hasattr(self, "model"):
            return
        try:
            counted = int(TenantModel.get(TENANT, consistent_read=True).job_count or 0)
        except TenantModel.DoesNotExist:
            counted = 0
        assert counted == self._live_jobs() == len(list(JobModel.query(TENANT)))

    @rule(job_id=jobs, pause=st.booleans())
    def pause_or_resume(self, job_id: str, pause: bool) -> None:
        _tick()
        model = self.model[job_id]
        if model.deleted_at is not None:
            return
        self.jobs_service.set_enabled(TENANT, job_id, not pause)
        open_pause = model.paused and model.paused[-1][1] is None
        if pause and not open_pause:
            model.paused.append([Clock.now, None])
        elif not pause and open_pause:
            model.paused[-1][1] = Clock.now
        self._settle()

    @rule(job_id=consumes(jobs))
    def delete(self, job_id: str) -> None:
        _tick()
        model = self.model[job_id]
        self.jobs_service.delete(TENANT, job_id)
        model.deleted_at = Clock.now
        self._settle()

    @rule(
        job_id=jobs,
        bad=st.sampled_from(
            [
                {"schedule": "61 * * * *"},
                {"task": "no.such.task"},
                {"due_time": "yesterday"},
                {"timezone": "Mars/Olympus"},
                {"repeats": 0},
                {"interval": {"every": 1, "period": "fortnights"}},
                {"kwargs": {"nope": 1}},
            ]
        ),
    )
    def rejected_patch_changes_nothing(self, job_id: str, bad: dict[str, Any]) -> None:
        _tick()
        if self.model[job_id].deleted_at is not None:
            return
        before = self.jobs_service.get(TENANT, job_id).attribute_values
        with pytest.raises(BeatlessError) as raised:
            self.jobs_service.patch(TENANT, job_id, bad)
        assert 400 <= http_status(raised.value) < 500
        assert self.jobs_service.get(TENANT, job_id).attribute_values == before

    @rule(job_id=jobs, text=st.text(max_size=20))
    def harmless_patch(self, job_id: str, text: str) -> None:
        _tick()
        if self.model[job_id].deleted_at is not None:
            return
        self.jobs_service.patch(TENANT, job_id, {"description": text})
        self._settle()

    @rule(job_id=jobs, seconds=st.sampled_from([1, 20, 60, 120]))
    def patch_racing_fires(self, job_id: str, seconds: int) -> None:
        """A harmless patch whose write waits while ``seconds`` of fires are delivered: a
        fire counted between an edit's read and its write must stay counted."""
        _tick()
        if self.model[job_id].deleted_at is not None:
            return
        write = self.jobs_service._write
        raced: list[bool] = []

        def racing(old: Any, new: Any, *args: Any, **kwargs: Any) -> None:
            if not raced and old is not None and new is not None:
                raced.append(True)
                self._deliver_until(Clock.now + timedelta(seconds=seconds))
            write(old, new, *args, **kwargs)

        self.jobs_service._write = racing  # type: ignore[method-assign]
        try:
            self.jobs_service.patch(TENANT, job_id, {"description": "raced"})
        finally:
            del self.jobs_service._write
        self._settle()

    @rule(target=runs, job_id=jobs)
    def trigger(self, job_id: str) -> str:
        _tick()
        if self.model[job_id].deleted_at is not None:
            return ""
        run = self.runs_service.trigger(TENANT, job_id)
        self.triggered[run.run_id] = "queued"
        return run.run_id

    @rule(run_id=runs)
    def cancel(self, run_id: str) -> None:
        _tick()
        if not run_id:
            return
        try:
            run = self.runs_service.cancel(TENANT, run_id)
        except BeatlessError as error:
            assert http_status(error) == 409  # not QUEUED or RUNNING: nothing to cancel
            return
        if run.status == "CANCELLED" and self.triggered.get(run_id) == "queued":
            self.triggered[run_id] = "cancelled"

    @rule(run_id=runs)
    def retry(self, run_id: str) -> None:
        _tick()
        if not run_id:
            return
        status = self.runs_service.get(TENANT, run_id).status
        try:
            self.runs_service.retry(TENANT, run_id)
        except BeatlessError as error:
            assert http_status(error) == 409 and status not in ("FAILED", "TIMED_OUT")
            return
        self.retried[run_id] = self.retried.get(run_id, 0) + 1

    @rule(fault=st.sampled_from([("count", False), ("count", True), ("put", False)]))
    def next_fire_fails_once(self, fault: tuple[str, bool]) -> None:
        """The next fire's delivery fails at one of its two writes and is delivered again. (A
        run put whose answer was lost leaves the run RUNNING and unexecuted for the reaper,
        which this machine does not run: tests/hardening/test_faults.py covers it.)"""
        self.fault.armed = fault

    @rule(seconds=st.sampled_from([1, 5, 19, 20, 21, 59, 60, 61, 119, 120, 300]))
    def advance(self, seconds: int) -> None:
        self._deliver_until(Clock.now + timedelta(seconds=seconds))

    @rule()
    def settle_queued_runs(self) -> None:
        """Deliver what is queued now (a manual trigger's message, a retry's)."""
        self._settle()

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def fires_ran_exactly_once(self) -> None:
        if not hasattr(self, "model"):
            return
        self._settle()
        by_job: dict[str, list[datetime]] = {}
        keys = [(e["run_id"], e["attempt"]) for e in EXECUTIONS]
        assert len(keys) == len(set(keys)), "an attempt of a run executed twice"
        for e in EXECUTIONS:
            if e["scheduled_time"] is not None and e["run_id"] not in self.triggered:
                if e["attempt"] == 1:
                    by_job.setdefault(e["job_id"], []).append(e["scheduled_time"])
                model = self.model[e["job_id"]]
                assert model.enabled_at(e["at"]), f"ran while paused or deleted: {e}"
        for job_id, model in self.model.items():
            ran = sorted(by_job.get(job_id, []))
            assert ran == model.expected(Clock.now), (job_id, model, ran)

    @invariant()
    def each_fire_counted_once(self) -> None:
        if not hasattr(self, "model"):
            return
        ran: dict[str, set[datetime]] = {}
        for e in EXECUTIONS:
            if e["scheduled_time"] is not None and e["run_id"] not in self.triggered:
                ran.setdefault(e["job_id"], set()).add(e["scheduled_time"])
        for job_id, model in self.model.items():
            if model.deleted_at is not None:
                continue
            stored = JobModel.get(TENANT, job_id, consistent_read=True)
            assert int(stored.fire_count or 0) == len(ran.get(job_id, ())), (job_id, stored)

    @invariant()
    def triggers_and_retries_ran_as_asked(self) -> None:
        if not hasattr(self, "model"):
            return
        for run_id, state in self.triggered.items():
            attempts = [e for e in EXECUTIONS if e["run_id"] == run_id]
            if state == "cancelled":
                assert attempts == [], f"cancelled run {run_id} executed"
            else:
                assert len(attempts) == 1 + self.retried.get(run_id, 0), (run_id, attempts)

    @invariant()
    def run_states_only_move_forward(self) -> None:
        if not hasattr(self, "model"):
            return
        cursor = None
        while True:
            page = self.runs_service.list(TENANT, limit=100, cursor=cursor)
            for run in page.items:
                now = (int(run.attempt or 1), RANK.get(run.status, 2), run.status)
                before = self.seen.get(run.run_id)
                if before is not None:
                    assert now[:2] >= before[:2], (run.run_id, before, now)
                    if now[:2] == before[:2] and before[1] == 2:
                        assert now[2] == before[2], ("a final state changed", run.run_id)
                self.seen[run.run_id] = now
            cursor = page.cursor
            if cursor is None:
                return


ServiceMachine.TestCase.settings = settings(
    max_examples=10 if QUICK else EXAMPLES,  # 10 x 30 = 300 steps; make fuzz: 200 x 60
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=QUICK,
    phases=[Phase.reuse, Phase.generate]
    if os.environ.get("BEATLESS_SM_NO_SHRINK")
    else tuple(Phase),
)
TestServiceMachine = ServiceMachine.TestCase
