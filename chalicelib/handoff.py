"""Second precision: hand a job's fires to SQS messages delayed to the second.

EventBridge fires somewhere inside the scheduled minute, so second-precision jobs (cron with
seconds, sub-minute intervals, due times) reach the worker through SQS delayed messages:
- the API sends the first window itself (up to the heartbeat's second fire, or a due time at
  most 15 minutes away);
- each ``rate(1 minute)`` heartbeat at T sends the fires in [T + 60 s, T + 120 s);
- a ``-due`` schedule, one minute ahead of a far due time, sends that fire.
A message body is ``{"kind": "fire", "job_id", "tenant", "scheduled_time", "spec",
"timeout_seconds"}`` (the job's spec and timeout when it was sent: the worker decides the fire
without reading the job, and the spec is checked against the job as it is then); the worker runs
it as a fire with the run id of (job, scheduled time), so overlapping windows cannot run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import schedules
from chalicelib.queues import MAX_DELAY, QueueGateway, delay_until
from chalicelib.schedules.durations import format_instant
from chalicelib.schedules.eventbridge import next_minute
from chalicelib.storage import JobModel

WINDOW = timedelta(minutes=1)
MAX_PLANNED = 600


def send_fire(queues: QueueGateway, job: JobModel, fire: datetime, now: datetime) -> None:
    body = {
        "kind": "fire",
        "job_id": job.job_id,
        "tenant": job.tenant,
        "scheduled_time": format_instant(fire),
        "spec": job.spec,  # what the fire is decided on, checked against the job (firing.py)
        "timeout_seconds": int(job.timeout_seconds or 300),
    }
    queues.send(job.queue, body, delay_until(fire, now))


def plan_fires(
    queues: QueueGateway, job: JobModel, start: datetime, end: datetime, now: datetime
) -> int:
    """Send the job's fires in [start, end); returns how many."""
    spec = schedules.ScheduleSpec.from_dict(job.spec)
    fired = int(job.fire_count or 0)
    count = 0
    for fire in spec.fires(start - timedelta(microseconds=1), MAX_PLANNED, fired):
        if fire >= end:
            break
        send_fire(queues, job, fire, now)
        count += 1
    return count


def initial_window(spec: schedules.ScheduleSpec, now: datetime) -> tuple[datetime, datetime] | None:
    """The fires the API hands to SQS itself, as [start, end) (None: nothing to send).

    A due time at or before now is in the window (it starts at the due time), so it fires at
    once; if it already fired, its message is a duplicate of that fire and runs nothing."""
    if schedules.path(spec) != "sqs":
        return None
    near_due = spec.due_at is not None and spec.due_at - now <= timedelta(seconds=MAX_DELAY)
    start, end = now, None
    if near_due:
        assert spec.due_at is not None
        start, end = min(now, spec.due_at), spec.due_at + timedelta(microseconds=1)
    if spec.kind != "once" and spec.precision == "second" and _subminute(spec):
        window_end = next_minute(now) + WINDOW
        end = max(end, window_end) if end else window_end
    return (start, end) if end is not None else None


def _subminute(spec: schedules.ScheduleSpec) -> bool:
    if spec.cron is not None:
        return spec.cron.seconds != frozenset({0})
    return spec.every is not None and spec.every.total_seconds() % 60 != 0
