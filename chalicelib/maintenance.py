"""Scheduled upkeep: the reaper (expired leases) and the reconciler (jobs vs schedules)."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from chalicelib import schedules, services, storage
from chalicelib.execution import LEASE_SHARDS, QUEUED, RUNNING, lease_text, utcnow
from chalicelib.jobs import spec_of
from chalicelib.scheduler import ScheduleTarget, schedule_name
from chalicelib.settings import get_settings
from chalicelib.storage import JobModel, RunModel
from chalicelib.storage.bookkeeping import update_job

log = logging.getLogger(__name__)
_NAME = re.compile(r"^job-([0-9a-z]{26})(?:-(dow|due))?$")


def reap(now: datetime | None = None) -> dict[str, Any]:
    """End every RUNNING run whose lease expired, and send again every QUEUED run whose message
    is overdue: one Query per state and shard of the sparse by-lease index, reading only runs
    that are overdue."""
    now = now or utcnow()
    storage.bind(get_settings())
    executor = services.executor()
    outcomes: dict[str, int] = {}
    for state, act in ((RUNNING, executor.reap), (QUEUED, executor.redispatch)):
        for shard in range(LEASE_SHARDS):
            overdue = RunModel.by_lease.query(
                f"{state}#{shard}", RunModel.lease_expires_at < lease_text(now)
            )
            for run in overdue:
                try:
                    status = act(run)
                except Exception:  # one run's failure must not stop the sweep
                    log.exception("reaper: run %s", run.run_id)
                    status = "ERROR"
                outcomes[status] = outcomes.get(status, 0) + 1
    return {"reaped": sum(outcomes.values()), "outcomes": outcomes}


def reconcile(now: datetime | None = None) -> dict[str, Any]:
    """Make EventBridge match the job items, both ways: a job missing a schedule gets it back,
    a schedule whose job is gone (or finished, or no longer plans it) is deleted.

    This reads every job (a Scan of the jobs table) and lists the group's schedules: upkeep,
    never on a request path, and paginated by boto3/PynamoDB."""
    now = now or utcnow()
    storage.bind(get_settings())
    gateway = services.scheduler()
    existing = _schedule_states(gateway)
    wanted: set[str] = set()
    created = updated = 0
    for job in JobModel.scan():
        plan = [] if job.finished_at else schedules.plan(spec_of(job), now)
        names = [schedule_name(job.job_id, p.suffix) for p in plan]
        wanted.update(names)
        missing = [n for n in names if n not in existing]
        state = "ENABLED" if job.enabled else "DISABLED"
        drifted = [n for n in names if n in existing and existing[n] != state]
        if missing or drifted:  # absent, or paused/resumed behind the job's back
            present = [n for n in names if n in existing]
            gateway.apply(ScheduleTarget(job.job_id, job.tenant, job.enabled), plan, present)
            created += len(missing)
            updated += len(drifted)
        if names != list(job.schedule_names or []):
            update_job(
                job.tenant,
                job.job_id,
                [JobModel.schedule_names.set(names)],
                JobModel.job_id.exists(),
            )
    deleted = 0
    for name in sorted(set(existing) - wanted):
        if _NAME.match(name):
            gateway.delete(name)
            deleted += 1
    if created or updated or deleted:
        log.warning(
            "reconciler: %d schedules re-created, %d re-stated, %d orphans deleted",
            created,
            updated,
            deleted,
        )
    return {"created": created, "updated": updated, "deleted": deleted}


def _schedule_states(gateway: Any) -> dict[str, str]:
    """Every beatless schedule of the group and its state (ENABLED or DISABLED)."""
    states: dict[str, str] = {}
    paginator = gateway.client.get_paginator("list_schedules")
    group = get_settings().schedule_group
    for page in paginator.paginate(GroupName=group, NamePrefix="job-"):
        states.update((s["Name"], s.get("State", "ENABLED")) for s in page["Schedules"])
    return states
