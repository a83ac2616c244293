"""What ``make run`` does at start about the time it was stopped.

The misfire rule (as Celery beat's and APScheduler's ``coalesce``, Quartz's "fire once now"):
for each enabled schedule, the most recent fire that fell due while the runtime was stopped runs
once, late, at start (its run keeps the scheduled time, so its lag shows how late); the older
missed fires of the job are recorded SKIPPED with the reason, up to the last ``RECORDED`` of
them (the rest are counted in the log). A paused job's schedule fires nothing, as on AWS.
Second-precision fires, handed to SQS as delayed messages before the stop, follow the same rule:
of each job's fires due in the stop, the latest message stays and runs, the older are taken out
and recorded SKIPPED.

Runs that were RUNNING when it stopped had their worker killed with it: each is queued again
and runs once more, whatever its retry policy (the stop was not the task's failure), recorded as
an attempt that ended TIMED_OUT with ``Interrupted``; a run with a cancel waiting is CANCELLED.
Runs that were QUEUED keep their messages (restored with the state), so they simply run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.local.standins import next_fire, scheduled_input

log = logging.getLogger("local-runtime")
#: Older missed fires recorded SKIPPED per job; more are only counted.
RECORDED = 100
#: Fires counted per schedule at most (a rate(1 minute) job stopped for a year is 525,600).
COUNTED = 100_000
#: Fires submitted in the last moments before the snapshot may not have written their run: they
#: are offered again (a fire already run is a duplicate, and runs once).
MARGIN = timedelta(seconds=5)


def missed_fires(schedule: dict[str, Any], since: datetime, until: datetime) -> list[datetime]:
    """The fires of ``schedule`` (a GetSchedule answer) in (since, until], oldest first."""
    fires: list[datetime] = []
    when = next_fire(schedule, since)
    while when is not None and when <= until and len(fires) < COUNTED:
        fires.append(when)
        when = next_fire(schedule, when)
    return fires


def missed_reason(since: datetime) -> str:
    """The reason a missed fire's SKIPPED run gives."""
    return f"missed: make run was stopped from {since:%Y-%m-%dT%H:%M:%SZ}"


@dataclass
class CaughtUp:
    fired: int = 0  # jobs whose latest missed fire ran once at start
    skipped: int = 0  # older missed fires recorded SKIPPED
    uncounted: int = 0  # older still, only counted here


def catch_up(
    client: Any,
    group: str,
    since: datetime,
    until: datetime,
    fire: Callable[[dict[str, Any]], Any],
    record_missed: Callable[[str, str, datetime, str | None, str], Any],
) -> CaughtUp:
    """Apply the misfire rule to every schedule of ``group`` for the stop (since, until]."""
    done = CaughtUp()
    reason = missed_reason(since)
    for page in client.get_paginator("list_schedules").paginate(GroupName=group):
        for summary in page["Schedules"]:
            if summary.get("State") == "DISABLED":
                continue
            try:
                schedule = client.get_schedule(Name=summary["Name"], GroupName=group)
            except client.exceptions.ResourceNotFoundException:
                continue
            missed = missed_fires(schedule, since - MARGIN, until)
            if not missed:
                continue
            fire(scheduled_input(schedule, missed[-1]))
            done.fired += 1
            event = json.loads(schedule["Target"].get("Input") or "{}")
            older = missed[:-1]
            for when in older[-RECORDED:]:
                if event.get("job_id") and record_missed(
                    str(event.get("tenant") or "default"),
                    str(event["job_id"]),
                    when,
                    event.get("schedule"),
                    reason,
                ):
                    done.skipped += 1
            done.uncounted += max(len(older) - RECORDED, 0)
    return done


def coalesce_planned(since: datetime, until: datetime) -> list[tuple[str, str, datetime]]:
    """The same rule for second-precision fires, already handed to SQS as delayed messages
    (``handoff.py``): of each job's fire messages due in the stop, only the latest stays; the
    older are taken out of the queue and returned as (tenant, job id, scheduled time) to be
    recorded. Works on moto's restored queues, before it serves."""
    from moto.backends import get_backend

    from chalicelib.worker import parse_time

    removed: list[tuple[str, str, datetime]] = []
    for _account, _region, backend in get_backend("sqs").iter_backends():  # type: ignore[call-overload]
        for queue in backend.queues.values():
            latest: dict[tuple[str, str], tuple[datetime, Any]] = {}
            older: list[tuple[str, str, datetime, Any]] = []
            for message in list(queue._messages):
                try:
                    body = json.loads(message.body)
                    if not isinstance(body, dict) or body.get("kind") != "fire":
                        continue
                    when = parse_time(str(body["scheduled_time"]))
                    key = (str(body.get("tenant") or "default"), str(body["job_id"]))
                except (ValueError, KeyError):
                    continue
                if not since - MARGIN < when <= until:
                    continue
                kept = latest.get(key)
                if kept is None or when > kept[0]:
                    if kept is not None:
                        older.append((*key, *kept))
                    latest[key] = (when, message)
                else:
                    older.append((*key, when, message))
            for tenant, job_id, when, message in older:
                queue._messages.remove(message)
                removed.append((tenant, job_id, when))
    return removed


def record_coalesced(
    removed: list[tuple[str, str, datetime]],
    since: datetime,
    record_missed: Callable[[str, str, datetime, str | None, str], Any],
) -> int:
    """Record SKIPPED the fires ``coalesce_planned`` took out, the last ``RECORDED`` per job."""
    reason = missed_reason(since)
    per_job: dict[tuple[str, str], list[datetime]] = {}
    for tenant, job_id, when in removed:
        per_job.setdefault((tenant, job_id), []).append(when)
    recorded = 0
    for (tenant, job_id), times in per_job.items():
        for when in sorted(times)[-RECORDED:]:
            if record_missed(tenant, job_id, when, None, reason):
                recorded += 1
    return recorded


def recover_interrupted(executor: Any) -> int:
    """Queue again every run left RUNNING by the stop; returns how many."""
    from chalicelib.execution import LEASE_SHARDS, QUEUED, RUNNING
    from chalicelib.storage import RunModel

    why = "make run stopped while this attempt ran; it runs again after the restart"
    queued = 0
    for shard in range(LEASE_SHARDS):
        for run in RunModel.by_lease.query(f"{RUNNING}#{shard}"):
            if executor.interrupted(run, why) == QUEUED:
                queued += 1
    return queued
