"""``make run`` really fires: jobs created over HTTP run on time, and a cancel sticks."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime

import pytest

from chalicelib.local.launch import LOCAL_KEY
from tests.stack import call

pytestmark = pytest.mark.slow  # waits for a whole-minute fire (up to about 70 s)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def vitam_call(port: int, step: dict) -> tuple[int, dict]:
    """POST a Vitam step as Vitam does: X-Vitam-Key and X-Tenant-Id (the key's tenant)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/vitam/v1/tasks",
        data=json.dumps(step).encode(),
        method="POST",
        headers={
            "X-Vitam-Key": LOCAL_KEY,
            "X-Tenant-Id": "default",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _wait_runs(port: int, job_id: str, status: str, deadline: float) -> list[dict]:
    while time.monotonic() < deadline:
        runs = call(port, "GET", f"/v1/jobs/{job_id}/runs")[1]["items"]
        if any(r["status"] == status for r in runs):
            return runs
        time.sleep(0.25)
    raise AssertionError(f"no {status} run of {job_id}: {runs}")


def test_jobs_of_every_face_fire_and_cancel_sticks_under_make_run(stack):
    _, port, _ = stack
    status, due = call(port, "POST", "/v1/jobs", {"name": "due", "task": "echo", "due_time": "2s"})
    assert status == 201, due
    status, minutely = call(
        port, "POST", "/v1/jobs", {"name": "minutely", "task": "echo", "schedule": "* * * * *"}
    )
    assert status == 201, minutely
    status, udata_job = call(
        port,
        "POST",
        "/api/1/workers/jobs/",
        {"name": "udata-minutely", "task": "echo", "crontab": {"minute": "*"}, "enabled": True},
    )
    assert status == 201, udata_job
    assert call(port, "POST", "/v1.0/jobs/dapr-soon", {"dueTime": "2s", "data": {"d": 1}})[0] == 204
    status, now_job = call(
        port, "POST", "/v1/jobs", {"name": "now", "task": "echo", "due_time": "0s"}
    )
    assert status == 201, now_job
    status, workflow = call(
        port, "POST", "/v1/jobs", {"name": "workflow", "task": "echo", "schedule": "@yearly"}
    )
    assert status == 201, workflow
    status, workflow_job = call(
        port, "POST", f"/webapi/v3/workflows/{workflow['id']}/jobs", {"priority": "High"}
    )
    assert status == 200, workflow_job
    status, vitam_task = vitam_call(
        port,
        {
            "Step": "ingest",
            "actions": [
                {"action": "echo", "arguments": {"a": 1}},
                {"action": "echo", "arguments": {"b": 2}},
            ],
        },
    )
    assert status == 201, vitam_task
    status, sleeper = call(port, "POST", "/v1/tasks", {"task": "sleep", "kwargs": {"seconds": 60}})
    assert status == 202, sleeper

    deadline = time.monotonic() + 20
    while call(port, "GET", f"/v1/tasks/{sleeper['id']}")[1]["status"] != "RUNNING":
        assert time.monotonic() < deadline, "the sleep task never started"
        time.sleep(0.1)
    assert call(port, "DELETE", f"/v1/tasks/{sleeper['id']}")[0] == 200

    # A due time of now fires at once, exactly once (issue 13: it never fired).
    (now_run,) = _wait_runs(port, now_job["id"], "SUCCEEDED", time.monotonic() + 15)
    lag = (_when(now_run["started_at"]) - _when(now_job["created_at"])).total_seconds()
    print(f"due_time 0s: started {lag:.3f} s after the job was created")
    assert lag <= 1.0

    (run,) = _wait_runs(port, due["id"], "SUCCEEDED", time.monotonic() + 15)
    error = (_when(run["started_at"]) - _when(run["scheduled_time"])).total_seconds()
    print(f"due_time 2s: started {error:+.3f} s from its due time")
    assert abs(error) <= 1.0
    assert call(port, "GET", f"/v1/jobs/{due['id']}")[1]["finished_at"] is not None

    # The sleep sees the cancel at its next check; a loaded machine may take a few seconds.
    deadline = time.monotonic() + 20
    while (cancelled := call(port, "GET", f"/v1/tasks/{sleeper['id']}")[1])["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the cancelled sleep is still running"
        time.sleep(0.2)
    assert cancelled["status"] == "CANCELLED"

    # The Alteryx workflow run and the Vitam multi-step task ran.
    deadline = time.monotonic() + 15
    while call(port, "GET", f"/webapi/v3/jobs/{workflow_job['id']}")[1]["status"] != "Completed":
        assert time.monotonic() < deadline, "the Alteryx job never completed"
        time.sleep(0.2)
    alteryx_job = call(port, "GET", f"/webapi/v3/jobs/{workflow_job['id']}")[1]
    assert alteryx_job["disposition"] == "Success"
    status, vitam_done = call(port, "GET", f"/v1/tasks/{vitam_task['id']}")
    assert (status, vitam_done["status"]) == (200, "SUCCEEDED")
    assert [s["status"] for s in vitam_done["steps"]] == ["SUCCEEDED", "SUCCEEDED"]

    # The Dapr job fired at its due time and, used up, left the Dapr face; its run stays.
    (dapr_job,) = [
        j for j in call(port, "GET", "/v1/jobs?limit=100")[1]["items"] if j["name"] == "dapr-soon"
    ]
    (dapr_run,) = _wait_runs(port, dapr_job["id"], "SUCCEEDED", time.monotonic() + 15)
    assert dapr_run["result"] == {"d": 1}
    assert call(port, "GET", "/v1.0/jobs/dapr-soon")[0] == 404

    runs = _wait_runs(port, minutely["id"], "SUCCEEDED", time.monotonic() + 75)
    fired = runs[0]
    assert fired["scheduled_time"].endswith(":00Z")
    assert fired["result"] == {"args": [], "kwargs": {}}
    (udata_run, *_) = _wait_runs(port, udata_job["id"], "SUCCEEDED", time.monotonic() + 15)
    status, celery = call(port, "GET", f"/api/1/workers/tasks/{udata_run['id']}/")
    assert (status, celery["status"]) == (200, "SUCCESS")
