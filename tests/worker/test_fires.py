"""Scheduled fires through the worker entry point: exactly once, recorded, bookkept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from app import worker as worker_handler
from chalicelib import services
from chalicelib.storage import RunModel
from tests.api.helpers import create
from tests.conftest import drain, queue_depth, schedules_of
from tests.testtasks import calls

WHEN = "2030-01-07T09:00:00Z"


def fire(job: dict, when: str = WHEN, schedule: str | None = None) -> dict:
    event = {
        "job_id": job["id"],
        "tenant": "default",
        "schedule": schedule or f"job-{job['id']}",
        "scheduled_time": when,
    }
    return worker_handler(event, None)


def runs_of(client, job_id: str) -> list[dict]:
    return client.get(f"/v1/jobs/{job_id}/runs").json_body["items"]


def test_scheduled_fire_runs_the_task_and_records_it(client):
    job = create(client, args=[1, "a"], kwargs={"k": True})
    answer = fire(job)
    assert answer["status"] == "SUCCEEDED"
    run = client.get(f"/v1/tasks/{answer['run_id']}").json_body
    assert run["status"] == "SUCCEEDED"
    assert run["result"] == {"args": [1, "a"], "kwargs": {"k": True}}
    assert run["scheduled_time"] == WHEN
    assert run["trigger"] == "schedule"
    assert run["steps"][0]["status"] == "SUCCEEDED"
    after = client.get(f"/v1/jobs/{job['id']}").json_body
    assert after["total_run_count"] == 1
    assert after["last_run_id"] == run["id"]
    assert after["last_run_at"] == WHEN
    assert after["version"] == job["version"]  # bookkeeping never bumps the user's version


def test_duplicate_fire_runs_once(client):
    job = create(client, task="tests.count", kwargs={"key": "dup"})
    first, second = fire(job), fire(job)
    assert first["status"] == "SUCCEEDED"
    assert second["status"] == "DUPLICATE"
    assert calls("dup") == 1
    assert len(runs_of(client, job["id"])) == 1
    assert client.get(f"/v1/jobs/{job['id']}").json_body["total_run_count"] == 1


def test_ten_concurrent_deliveries_of_one_fire_run_once(atomic_aws, client):
    job = create(client, task="tests.count", kwargs={"key": "ten"})
    services.worker()  # build the services once, before the threads race
    answers: list[dict] = []
    threads = [threading.Thread(target=lambda: answers.append(fire(job))) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls("ten") == 1
    assert sorted(a["status"] for a in answers) == ["DUPLICATE"] * 9 + ["SUCCEEDED"]
    assert len(runs_of(client, job["id"])) == 1


def test_the_two_halves_of_a_split_firing_the_same_minute_run_once(client):
    job = create(client, task="tests.count", kwargs={"key": "split"}, schedule="0 9 1,15 * 1")
    fire(job, "2030-04-01T09:00:00Z")  # the 1st, and a Monday: both schedules fire
    fire(job, "2030-04-01T09:00:00Z", schedule=f"job-{job['id']}-dow")
    assert calls("split") == 1


def test_fire_of_a_paused_job_is_recorded_skipped(client):
    job = create(client, enabled=False)
    answer = fire(job)
    assert answer["status"] == "SKIPPED"
    run = client.get(f"/v1/tasks/{answer['run_id']}").json_body
    assert run["reason"] == "job is paused"
    assert client.get(f"/v1/jobs/{job['id']}").json_body["total_run_count"] == 0


def test_fire_of_a_deleted_job_is_recorded_skipped(client):
    job = create(client)
    client.delete(f"/v1/jobs/{job['id']}")
    answer = fire(job)
    assert answer["status"] == "SKIPPED"
    assert client.get(f"/v1/tasks/{answer['run_id']}").json_body["reason"] == "job does not exist"


def test_repeats_used_up_finishes_the_job_and_removes_its_schedule(client, scheduler):
    job = create(client, schedule="@hourly", repeats=2)
    assert fire(job, "2030-01-01T01:00:00Z")["status"] == "SUCCEEDED"
    assert fire(job, "2030-01-01T02:00:00Z")["status"] == "SUCCEEDED"
    after = client.get(f"/v1/jobs/{job['id']}").json_body
    assert after["finished_at"] is not None
    assert after["next_run_at"] is None
    assert schedules_of(scheduler, job["id"]) == {}
    third = fire(job, "2030-01-01T03:00:00Z")
    assert third["status"] == "SKIPPED"
    assert client.get(f"/v1/tasks/{third['run_id']}").json_body["reason"] == "job is finished"
    statuses = sorted(r["status"] for r in runs_of(client, job["id"]))
    assert statuses == ["SKIPPED", "SUCCEEDED", "SUCCEEDED"]


def test_overlap_skip_records_a_skipped_fire_while_a_run_is_running(client):
    job = create(client, overlap="skip")
    RunModel(
        "default",
        "01m00000000000000000000000",
        job_id=job["id"],
        job_key=f"default#{job['id']}",
        status="RUNNING",
        steps=[],
    ).save()
    answer = fire(job)
    assert answer["status"] == "SKIPPED"
    reason = client.get(f"/v1/tasks/{answer['run_id']}").json_body["reason"]
    assert reason == "run 01m00000000000000000000000 is still running (overlap: skip)"


def test_next_run_at_moves_on_after_a_fire(client):
    job = create(client, schedule="0 9 * * *")
    fire(job, "2030-01-07T09:00:00Z")
    assert client.get(f"/v1/jobs/{job['id']}").json_body["next_run_at"] == "2030-01-08T09:00:00Z"


def test_direct_invoke_with_a_job_id_runs_it_now(client):
    job = create(client, task="tests.count", kwargs={"key": "invoke"})
    answer = worker_handler({"job_id": job["id"]}, None)
    assert answer["status"] == "QUEUED"
    drain()
    assert calls("invoke") == 1
    run = client.get(f"/v1/tasks/{answer['run_id']}").json_body
    assert (run["status"], run["trigger"]) == ("SUCCEEDED", "manual")
    assert worker_handler({"job_id": "01m00000000000000000000000"}, None)["error"]


def test_subminute_job_hands_its_fires_to_sqs(client):
    job = create(client, schedule="@every 10s")
    depth = queue_depth("beatless-default")
    assert 6 <= depth["delayed"] + depth["visible"] <= 13  # up to the heartbeat's second window
    heartbeat = datetime.now(UTC).replace(second=0, microsecond=0)
    before = sum(queue_depth("beatless-default").values())
    fire(job, heartbeat.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert sum(queue_depth("beatless-default").values()) - before == 6  # [T+60 s, T+120 s)


def test_sqs_fire_runs_at_its_exact_second_and_stale_ones_are_skipped(client):
    job = create(client, schedule="@every 10s", task="tests.count", kwargs={"key": "exact"})
    fire_time = datetime.fromisoformat(job["next_run_at"].replace("Z", "+00:00"))
    worker = services.worker()
    body = {
        "kind": "fire",
        "job_id": job["id"],
        "tenant": "default",
        "scheduled_time": job["next_run_at"],
    }
    worker.handle_message(body, None)
    assert calls("exact") == 1
    off_schedule = (fire_time + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = dict(body, scheduled_time=off_schedule)
    worker.handle_message(stale, None)
    assert calls("exact") == 1
    skipped = [r for r in runs_of(client, job["id"]) if r["status"] == "SKIPPED"]
    assert skipped[0]["reason"].startswith("no longer a fire time")


def test_a_fire_delivered_early_waits_for_its_second(client):
    job = create(client, schedule="@every 10s", task="tests.count", kwargs={"key": "early"})
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    # make `soon` one of the job's fire times: an every-10s job anchored 10 s before it
    from chalicelib.storage import JobModel

    stored = JobModel.get("default", job["id"])
    stored.spec = {
        **stored.spec,
        "anchor": (soon - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    stored.save()
    body = {
        "kind": "fire",
        "job_id": job["id"],
        "tenant": "default",
        "scheduled_time": soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    services.worker().handle_message(body, None)
    (run,) = [r for r in runs_of(client, job["id"]) if r["status"] == "SUCCEEDED"]
    started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
    assert timedelta(0) <= started - soon < timedelta(milliseconds=500)


def test_a_ttl_job_shows_the_end_its_ttl_resolved_to(client):
    before = datetime.now(UTC).replace(microsecond=0)
    job = create(client, schedule="*/5 * * * *", ttl="2h")
    assert job["ttl"] == "2h"
    assert job["end_at"] is not None
    end = datetime.fromisoformat(job["end_at"].replace("Z", "+00:00"))
    assert timedelta(hours=2) <= end - before <= timedelta(hours=2, seconds=5)
    assert client.get(f"/v1/jobs/{job['id']}").json_body["end_at"] == job["end_at"]
    given = create(client, name="with-an-end", schedule="0 9 * * *", end_at="2030-01-01T00:00:00Z")
    assert given["end_at"] == "2030-01-01T00:00:00Z"
