"""The reaper and the reconciler, each breaking things behind the app's back first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app import reaper, reconciler
from chalicelib import maintenance
from chalicelib.execution import lease_shard, lease_text
from chalicelib.settings import get_settings
from chalicelib.storage import RunModel
from tests.api.helpers import create
from tests.conftest import drain, queue_depth, schedules_of

SCHEDULED_EVENT = {
    "version": "0",
    "id": "e",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2030-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {},
}


def stuck_run(run_id: str, expired: bool = True, **fields) -> RunModel:
    """A RUNNING run whose worker died (a Lambda killed by its timeout records nothing)."""
    when = datetime.now(UTC) + (timedelta(minutes=-5) if expired else timedelta(minutes=5))
    run = RunModel(
        "default",
        run_id,
        status="RUNNING",
        task="echo",
        steps=[{"task": "echo", "args": [], "kwargs": {}}],
        lease_shard=lease_shard(run_id),
        lease_expires_at=lease_text(when),
        **fields,
    )
    run.save()
    return run


def test_reaper_times_out_runs_whose_lease_expired(client):
    stuck_run("01m00000000000000000000001")
    stuck_run("01m00000000000000000000002", expired=False)
    assert reaper(SCHEDULED_EVENT, None) == {"reaped": 1, "outcomes": {"TIMED_OUT": 1}}
    dead = client.get("/v1/tasks/01m00000000000000000000001").json_body
    assert dead["status"] == "TIMED_OUT"
    assert dead["reason"].startswith("lease expired")
    alive = client.get("/v1/tasks/01m00000000000000000000002").json_body
    assert alive["status"] == "RUNNING"
    assert maintenance.reap()["reaped"] == 0  # finished runs left the sparse index


def test_reaper_retries_per_policy(client):
    stuck_run("01m00000000000000000000003", retry={"max_attempts": 2, "initial_seconds": 0})
    assert maintenance.reap()["outcomes"] == {"QUEUED": 1}
    drain()
    run = client.get("/v1/tasks/01m00000000000000000000003").json_body
    assert (run["status"], run["attempt"]) == ("SUCCEEDED", 2)


def test_reaper_ends_a_cancel_requested_run_cancelled(client):
    stuck_run("01m00000000000000000000004", cancel_requested=True)
    assert maintenance.reap()["outcomes"] == {"CANCELLED": 1}


def test_reconciler_restores_a_schedule_deleted_behind_the_apps_back(client, scheduler):
    job = create(client, schedule="30 4 1,15 * 5")
    group = get_settings().schedule_group
    scheduler.delete_schedule(Name=f"job-{job['id']}-dow", GroupName=group)
    assert reconciler(SCHEDULED_EVENT, None) == {"created": 1, "updated": 0, "deleted": 0}
    assert len(schedules_of(scheduler, job["id"])) == 2
    assert maintenance.reconcile() == {"created": 0, "updated": 0, "deleted": 0}


def test_reconciler_deletes_a_schedule_whose_job_is_gone(client, scheduler):
    settings = get_settings()
    orphan = "job-01m00000000000000000000009"
    scheduler.create_schedule(
        Name=orphan,
        GroupName=settings.schedule_group,
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": settings.worker_arn, "RoleArn": settings.scheduler_role_arn},
    )
    kept = create(client)
    assert maintenance.reconcile() == {"created": 0, "updated": 0, "deleted": 1}
    names = {
        s["Name"] for s in scheduler.list_schedules(GroupName=settings.schedule_group)["Schedules"]
    }
    assert names == {f"job-{kept['id']}"}


def test_reconciler_removes_schedules_of_finished_jobs(client, scheduler):
    job = create(client)
    from chalicelib.storage import JobModel

    JobModel.get("default", job["id"]).update(
        actions=[JobModel.finished_at.set(datetime.now(UTC))], add_version_condition=False
    )
    assert maintenance.reconcile()["deleted"] == 1
    assert schedules_of(scheduler, job["id"]) == {}


def test_scheduler_dead_letters_land_in_their_queue(client):
    assert queue_depth(get_settings().scheduler_dlq_name) == {"visible": 0, "delayed": 0}
