"""Running a claimed run: its steps in order, the task context, and the recorded outcome.

Every transition is a conditional update from the state this code expects, so a duplicate
delivery, a concurrent cancel or the reaper can never produce two outcomes: the loser's write
fails its condition and it stops. A run whose cancel was requested never ends SUCCEEDED: the
success write requires ``cancel_requested = false``.
"""

from __future__ import annotations

import json
import logging
import time
import traceback as tb
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib import logs, observers, targets
from chalicelib.clock import NoTimeLeft, check_time, utcnow
from chalicelib.errors import condition_failed
from chalicelib.queues import QueueGateway, delay_until
from chalicelib.schedules.durations import format_instant
from chalicelib.storage import JobModel, MessageModel, RunModel
from chalicelib.storage.models import AttemptEntry
from chalicelib.tasks import TaskRegistry
from chalicelib.vocabulary import FINAL_STATUSES, RunStatus

log = logging.getLogger(__name__)

# Short names for the run statuses (defined once, in chalicelib.vocabulary).
QUEUED, RUNNING, SUCCEEDED, FAILED = (
    RunStatus.QUEUED,
    RunStatus.RUNNING,
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
)
CANCELLED, TIMED_OUT, SKIPPED = RunStatus.CANCELLED, RunStatus.TIMED_OUT, RunStatus.SKIPPED
FINAL = FINAL_STATUSES
RESULT_LIMIT = 64 * 1024
MESSAGE_LIMIT = 8 * 1024
TRACEBACK_LIMIT = 32 * 1024
LEASE_SHARDS = 8
LEASE_MARGIN = timedelta(seconds=30)
#: How long a QUEUED run may wait past its due time before its message is presumed lost (a
#: send that failed after the run was written) and the reaper sends it again. A message that
#: was only slow then arrives twice, which the conditional claim makes harmless.
DISPATCH_GRACE = timedelta(minutes=15)
RETENTION = timedelta(days=30)
DEFAULT_RETRY = {"max_attempts": 1, "initial_seconds": 1.0, "multiplier": 2.0, "max_seconds": 900}
CANCEL_POLL_SECONDS = 0.5
#: What a step is given (the rest, status, result and times, is what became of it).
STEP_INPUTS = ("task", "target", "args", "kwargs")
#: The top-level fields that describe how a run (or its last attempt) ended: an outcome write
#: sets those it has and removes the rest, so nothing of an earlier attempt stays on top.
OUTCOME_FIELDS = ("result", "exc", "error", "traceback", "reason", "retry_at")
#: The observers of every run (chalicelib/observers.py says what they are called with).
OBSERVERS = observers.OBSERVERS


def notify(event: str, run: RunModel, **details: Any) -> None:
    """Tell the OBSERVERS; one that raises is logged, never the run's failure."""
    for observer in OBSERVERS:
        try:
            observer(event, run, **details)
        except Exception:
            log.exception("observer %r failed on %s", observer, event)


def job_steps(job: JobModel) -> list[dict[str, Any]]:
    """The steps a run of ``job`` executes: its target, or its task with its arguments."""
    if job.target is not None:
        return [{"target": job.target}]
    return [{"task": job.task, "args": job.args or [], "kwargs": job.kwargs or {}}]


def running_run(tenant: str, job_id: str) -> str | None:
    """The id of a RUNNING run of the job among its 20 most recent runs (one bounded Query on
    the by-job index: with ``overlap: skip`` a run older than that cannot still be running)."""
    recent = RunModel.by_job.query(f"{tenant}#{job_id}", scan_index_forward=False, limit=20)
    return next((run.run_id for run in recent if run.status == RUNNING), None)


def backoff(policy: dict[str, Any] | None, attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped (and by SQS's 900)."""
    p = {**DEFAULT_RETRY, **(policy or {})}
    delay = float(p["initial_seconds"]) * float(p["multiplier"]) ** max(attempt - 1, 0)
    return min(delay, float(p["max_seconds"]), 900.0)


def attempts_left(run: RunModel) -> bool:
    return int(run.attempt) < int({**DEFAULT_RETRY, **(run.retry or {})}["max_attempts"])


def cap_result(value: Any) -> Any:
    """The result as stored: JSON-safe, and past 64 KB a visible truncation marker."""
    text = json.dumps(value, default=str)
    if len(text) <= RESULT_LIMIT:
        return json.loads(text)
    return {"truncated": True, "size": len(text), "preview": text[:1000]}


def lease_shard(run_id: str, state: str = "RUNNING") -> str:
    return f"{state}#{zlib.crc32(run_id.encode()) % LEASE_SHARDS}"


def dispatch_lease(run_id: str, due: datetime) -> tuple[str, str]:
    """The by-lease entry of a QUEUED run: found by the reaper if still QUEUED well past ``due``."""
    return lease_shard(run_id, QUEUED), lease_text(due + DISPATCH_GRACE)


def lease_text(when: datetime) -> str:
    """A fixed-width UTC form, so leases compare as strings in the by-lease index."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_until(now: datetime, timeout_seconds: float) -> str:
    return lease_text(now + timedelta(seconds=timeout_seconds) + LEASE_MARGIN)


def run_key(run: RunModel) -> str:
    return f"{run.tenant}#{run.run_id}"


class TaskContext:
    """What a task sees: its run, its inputs, a log, cooperative cancellation and the clock."""

    def __init__(
        self,
        run: RunModel,
        step: int,
        previous: Any,
        deadline: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.run_id = run.run_id
        self.tenant = run.tenant
        self.job_id = run.job_id
        self.attempt = int(run.attempt)
        self.data = run.data
        self.step = step
        self.previous = previous  # the previous step's result
        self.scheduled_time = run.scheduled_time
        self._run = run
        self._deadline = deadline
        self._clock = clock
        self._cancelled = False
        self._checked = 0.0
        self._seq = int(run.message_count or 0)

    def log(self, text: str, level: str = "INFO") -> None:
        """Append a message to the run's log (one item each: the log has no size limit)."""
        self._seq += 1
        message = MessageModel(
            run_key(self._run),
            f"{self.attempt:04d}{self._seq:08d}",
            at=self._clock(),
            level=str(level).upper()[:16],
            text=str(text)[:MESSAGE_LIMIT],
            step=self.step,
            expires_at=self._clock() + RETENTION,
        )
        message.save()
        if OBSERVERS:
            notify("log", self._run, level=message.level, text=message.text, step=self.step)

    @property
    def cancel_seen(self) -> bool:
        """Whether ``cancelled()`` ever answered True: the step was told to stop, so however it
        returns, it was interrupted (CANCELLED, its result dropped)."""
        return self._cancelled

    def cancelled(self) -> bool:
        """Whether a cancel was requested; reads at most every half second."""
        if self._cancelled:
            return True
        if time.monotonic() - self._checked >= CANCEL_POLL_SECONDS:
            self._checked = time.monotonic()
            try:
                current = RunModel.get(
                    self._run.tenant,
                    self._run.run_id,
                    consistent_read=True,
                    attributes_to_get=["cancel_requested", "status"],
                )
                self._cancelled = bool(current.cancel_requested) or current.status != RUNNING
            except DoesNotExist:
                self._cancelled = True
        return self._cancelled

    def remaining_seconds(self) -> float:
        """Seconds before the run's timeout (or the Lambda's, whichever is sooner)."""
        return max(self._deadline - time.monotonic(), 0.0)


class Executor:
    """Execute RUNNING runs and record their outcome."""

    def __init__(
        self,
        registry: TaskRegistry,
        queues: QueueGateway,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._registry = registry
        self._queues = queues
        self._clock = clock

    # -- claiming ----------------------------------------------------------------------------

    def claim(self, run: RunModel) -> bool:
        """QUEUED → RUNNING with a lease; False if someone else got there first."""
        now = self._clock()
        try:
            run.update(
                actions=[
                    RunModel.status.set(RUNNING),
                    RunModel.started_at.set(now),
                    # its first step shows RUNNING from now on, in the same write
                    RunModel.steps.set(_started(run.steps or [], 0, now)),
                    RunModel.lease_shard.set(lease_shard(run.run_id)),
                    RunModel.lease_expires_at.set(lease_until(now, run.timeout_seconds)),
                ],
                condition=(RunModel.status == QUEUED) & (RunModel.cancel_requested == False),  # noqa: E712
            )
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def release(self, run: RunModel) -> str:
        """RUNNING → QUEUED for a run claimed (or admitted) that never started its first step:
        not an attempt, and back on the reaper's dispatch sweep. Refused if a cancel arrived
        meanwhile (then RUNNING: the caller ends it CANCELLED)."""
        shard, deadline = dispatch_lease(run.run_id, self._clock())
        try:
            run.update(
                actions=[
                    RunModel.status.set(QUEUED),
                    RunModel.started_at.remove(),
                    RunModel.steps.set([_reset(step) for step in run.steps or []]),
                    RunModel.lease_shard.set(shard),
                    RunModel.lease_expires_at.set(deadline),
                ],
                condition=(RunModel.status == RUNNING) & (RunModel.cancel_requested == False),  # noqa: E712
            )
        except UpdateError as error:
            if condition_failed(error):
                return RUNNING
            raise
        return QUEUED

    # -- running -----------------------------------------------------------------------------

    @logs.of_run
    def execute(self, run: RunModel, remaining_ms: Callable[[], int] | None = None) -> str:
        """Run every step of a RUNNING run; returns the status it ended with (or RUNNING if it
        lost the run to a cancel, the reaper or a duplicate).

        With too little Lambda time left to start it, the run goes back to QUEUED (not an
        attempt) and NoTimeLeft is raised, so its message is reported failed and comes back."""
        budget = float(run.timeout_seconds or 300)
        steps = [dict(step) for step in run.steps]
        try:
            left = check_time(run.timeout_seconds, remaining_ms)
        except NoTimeLeft:
            if self.release(run) == QUEUED:
                raise
            return self._cancelled(run, steps, "cancel requested before it started")
        if left is not None:
            budget = min(budget, left - 1.0)
        deadline = time.monotonic() + budget
        previous: Any = None
        for index, step in enumerate(steps):
            begun = step.get("started_at") if step.get("status") == RUNNING else None
            if index > 0:  # record the last step's end, and this one RUNNING while it runs
                recorded = _started(steps, index, self._clock())
                begun = recorded[index]["started_at"]
                state = self._boundary(run, recorded)
                if state is None:
                    return RUNNING
                if state:
                    return self._cancelled(run, steps, "cancelled between steps")
            if time.monotonic() >= deadline:
                return self._timed_out(run, steps, f"no time left before step {index}")
            work = self._work(step)
            step["status"], step["started_at"] = RUNNING, begun or format_instant(self._clock())
            if isinstance(work, tuple):
                step["status"] = FAILED
                return self._failed(run, steps, *work, "", retry=False)
            context = TaskContext(run, index, previous, deadline, self._clock)
            try:
                result = work(context)
            except targets.TargetFailed as error:  # the call's answer decides whether to retry
                step["status"], step["ended_at"] = FAILED, format_instant(self._clock())
                return self._failed(
                    run,
                    steps,
                    type(error).__name__,
                    str(error)[:MESSAGE_LIMIT],
                    "",
                    retry=error.retryable,
                )
            except Exception as error:  # the task's failure is data, not ours
                step["status"], step["ended_at"] = FAILED, format_instant(self._clock())
                return self._failed(
                    run,
                    steps,
                    type(error).__name__,
                    str(error)[:MESSAGE_LIMIT],
                    tb.format_exc()[-TRACEBACK_LIMIT:],
                )
            if context.cancel_seen:  # it stopped early because it was told to: not a success
                step["status"], step["ended_at"] = CANCELLED, format_instant(self._clock())
                return self._cancelled(run, steps, "cancel requested while running")
            step["status"], step["ended_at"] = SUCCEEDED, format_instant(self._clock())
            step["result"] = cap_result(result)
            previous = result
            if time.monotonic() > deadline:
                return self._timed_out(run, steps, f"step {index} ran past the timeout")
        return self._succeeded(run, steps, cap_result(previous))

    def _work(self, step: dict[str, Any]) -> Callable[[TaskContext], Any] | tuple[str, str]:
        """What a step calls with its context: a registered task with its arguments, or a
        target type with its spec; else ``(exc, message)`` saying why it cannot run."""
        if "target" in step:
            spec = step["target"] or {}
            target_type = targets.get(spec.get("type", ""))
            if target_type is None:
                return "TargetNotRegistered", f"target type {spec.get('type')!r} is not registered"
            return lambda context: target_type.call(context, spec)
        definition = self._registry.get(step.get("task", ""))
        if definition is None:
            return "TaskNotRegistered", f"task {step.get('task')!r} is not registered"
        args, kwargs = step.get("args", []), step.get("kwargs", {})
        return lambda context: definition.func(context, *args, **kwargs)

    def _boundary(self, run: RunModel, steps: list[dict[str, Any]]) -> bool | None:
        """Record step progress; True if a cancel is requested, None if the run is not ours."""
        try:
            run.update(
                actions=[RunModel.steps.set(steps)],
                condition=RunModel.status == RUNNING,
            )
        except UpdateError as error:
            if condition_failed(error):
                return None
            raise
        return bool(run.cancel_requested)

    # -- outcomes ----------------------------------------------------------------------------

    def _end(
        self,
        run: RunModel,
        status: str,
        steps: list[dict[str, Any]],
        why: str | None = None,
        **fields: Any,
    ) -> bool:
        """The final outcome, in one conditional update: the status, the outcome fields given
        (the others removed: they were an earlier attempt's), and this attempt appended to
        ``attempts`` with ``why`` as its error."""
        now = self._clock()
        actions = [
            RunModel.status.set(status),
            RunModel.steps.set(steps),
            RunModel.ended_at.set(now),
            RunModel.expires_at.set(now + RETENTION),
            RunModel.lease_shard.remove(),
            RunModel.lease_expires_at.remove(),
            _append_attempt(run, status, now, why),
        ]
        actions += _outcome(fields, OUTCOME_FIELDS)
        condition = RunModel.status == RUNNING
        if status == SUCCEEDED:
            condition &= RunModel.cancel_requested == False  # noqa: E712
        started, attempt = run.started_at, int(run.attempt)
        try:
            run.update(actions=actions, condition=condition)
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        if OBSERVERS:
            notify(
                "end",
                run,
                status=status,
                attempt=attempt,
                started_at=started,
                ended_at=now,
                why=why or fields.get("reason"),
            )
        return True

    def _succeeded(self, run: RunModel, steps: list[dict[str, Any]], result: Any) -> str:
        if self._end(run, SUCCEEDED, steps, result=result):
            return SUCCEEDED
        # Lost the condition: a cancel arrived during the last step (or the run was reaped).
        return self._cancelled(run, steps, "cancel requested while running")

    def _cancelled(self, run: RunModel, steps: list[dict[str, Any]], reason: str) -> str:
        for step in steps:
            if step.get("status") in (None, RUNNING):
                step["status"] = CANCELLED
        return CANCELLED if self._end(run, CANCELLED, steps, reason=reason) else RUNNING

    @logs.of_run
    def reap(self, run: RunModel) -> str:
        """End a RUNNING run whose lease expired: retried per its policy, else TIMED_OUT (or
        CANCELLED if a cancel was waiting)."""
        steps = [dict(s) for s in run.steps or []]
        if run.cancel_requested:
            return self._cancelled(run, steps, "cancel requested; its worker stopped answering")
        reason = "lease expired: the worker was stopped (timeout or crash) before it finished"
        if attempts_left(run) and self.requeue(
            run, steps, outcome=TIMED_OUT, exc="LeaseExpired", error=reason
        ):
            return QUEUED
        return self._timed_out(run, steps, reason, exc="LeaseExpired")

    def interrupted(self, run: RunModel, why: str) -> str:
        """A RUNNING run whose worker is known gone (``make run`` was stopped while it ran):
        queued again to run once more whatever its retry policy, the stop not being the task's
        failure; CANCELLED if a cancel was waiting. The stopped attempt ends TIMED_OUT."""
        steps = [dict(s) for s in run.steps or []]
        if run.cancel_requested:
            return self._cancelled(run, steps, "cancel requested; its worker was stopped")
        if self.requeue(run, steps, outcome=TIMED_OUT, exc="Interrupted", error=why):
            return QUEUED
        return str(run.status)

    def _timed_out(
        self, run: RunModel, steps: list[dict[str, Any]], reason: str, exc: str = "TimedOut"
    ) -> str:
        for step in steps:  # a step still RUNNING is the one the time ran out in
            if step.get("status") == RUNNING:
                step["status"] = TIMED_OUT
        ended = self._end(run, TIMED_OUT, steps, why=f"{exc}: {reason}", reason=reason)
        return TIMED_OUT if ended else RUNNING

    def _failed(
        self,
        run: RunModel,
        steps: list[dict[str, Any]],
        exc: str,
        message: str,
        trace: str,
        retry: bool = True,
    ) -> str:
        if retry and attempts_left(run) and not run.cancel_requested:
            if self.requeue(run, steps, exc=exc, error=message, traceback=trace or None):
                return QUEUED
            # The requeue lost its condition: a cancel arrived (or the run was reaped).
            return self._cancelled(run, steps, "cancel requested while running")
        why = f"{exc}: {message}"
        if not self._end(run, FAILED, steps, why, exc=exc, error=message, traceback=trace or None):
            return RUNNING
        self._queues.send_failed({"run_id": run.run_id, "tenant": run.tenant, "exc": exc})
        if OBSERVERS:
            notify("dead_letter", run)
        return FAILED

    def requeue(
        self,
        run: RunModel,
        steps: list[dict[str, Any]] | None = None,
        outcome: str = FAILED,
        *,
        exc: str,
        error: str,
        traceback: str | None = None,
    ) -> bool:
        """RUNNING → QUEUED for another attempt after the policy's backoff, through SQS. The
        attempt that ended is appended to ``attempts``; on top, ``exc``, ``error`` and
        ``traceback`` say why the run waits (only this attempt's: the rest is removed)."""
        now = self._clock()
        wait = backoff(run.retry, int(run.attempt))
        retry_at = now + timedelta(seconds=wait)
        shard, deadline = dispatch_lease(run.run_id, retry_at)
        actions = [
            RunModel.status.set(QUEUED),
            RunModel.attempt.add(1),
            RunModel.retry_at.set(retry_at),
            RunModel.lease_shard.set(shard),
            RunModel.lease_expires_at.set(deadline),
            _append_attempt(run, outcome, now, f"{exc}: {error}"),
        ]
        if steps is not None:
            actions.append(RunModel.steps.set([_reset(s) for s in steps]))
        failure = {"exc": exc, "error": error, "traceback": traceback}
        actions += _outcome(failure, ("result", "exc", "error", "traceback", "reason"))
        started, attempt, why = run.started_at, int(run.attempt), f"{exc}: {error}"
        try:
            run.update(
                actions=actions,
                condition=(RunModel.status == RUNNING) & (RunModel.cancel_requested == False),  # noqa: E712
            )
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        if OBSERVERS:
            notify(
                "end",
                run,
                status=outcome,
                attempt=attempt,
                started_at=started,
                ended_at=now,
                why=why,
                retry_at=retry_at,
            )
        self._queues.send(
            run.queue, {"run_id": run.run_id, "tenant": run.tenant}, delay_until(retry_at, now)
        )
        return True

    def redispatch(self, run: RunModel) -> str:
        """Send a QUEUED run whose message is presumed lost again, then move its dispatch
        deadline on (conditionally: a run claimed or cancelled meanwhile is left alone)."""
        now = self._clock()
        due = max(run.retry_at or now, now)
        self._queues.send(
            run.queue, {"run_id": run.run_id, "tenant": run.tenant}, delay_until(due, now)
        )
        shard, deadline = dispatch_lease(run.run_id, due)
        try:
            run.update(
                actions=[RunModel.lease_shard.set(shard), RunModel.lease_expires_at.set(deadline)],
                condition=(RunModel.status == QUEUED)
                & (RunModel.lease_expires_at == run.lease_expires_at),
            )
        except UpdateError as error:
            if condition_failed(error):
                return run.status
            raise
        return "REDISPATCHED"


def _append_attempt(run: RunModel, outcome: str, ended: datetime, error: str | None) -> Any:
    """The update action appending the run's current attempt to ``attempts`` (created on the
    first append: runs written before the list existed have none)."""
    entry = AttemptEntry(
        number=int(run.attempt),
        started_at=run.started_at,
        ended_at=ended,
        outcome=outcome,
        error=error[:MESSAGE_LIMIT] if error else None,
    )
    return RunModel.attempts.set((RunModel.attempts | []).append([entry]))


def _outcome(values: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    """Set the outcome fields given a value; remove the other ``names``."""
    unknown = set(values) - set(names)
    assert not unknown, f"not outcome fields: {unknown}"
    return [
        getattr(RunModel, name).set(values[name])
        if values.get(name) is not None
        else getattr(RunModel, name).remove()
        for name in names
    ]


def _started(steps: list[dict[str, Any]], index: int, now: datetime) -> list[dict[str, Any]]:
    """``steps`` with step ``index`` RUNNING since ``now``: what a reader sees while it runs."""
    return [
        {**step, "status": RUNNING, "started_at": format_instant(now)} if i == index else step
        for i, step in enumerate(steps)
    ]


def _reset(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k in STEP_INPUTS}


def put_new(model: Model) -> bool:
    """Put ``model`` only if its key is new; False if it already exists."""
    hash_key = model._hash_key_attribute()
    try:
        model.save(condition=hash_key.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True
