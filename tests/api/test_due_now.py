"""A due time at or before now fires at once, exactly once (issue 13, item 1).

Dapr's own delivery integration tests (dapr/dapr tests/integration/suite/daprd/jobs/http/*)
schedule every job with ``"dueTime": "0s"``; EventBridge's ``at()`` in the past fires at once.
Reproduced through the native and Dapr faces, then drained as the SQS event source would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import create, send
from tests.conftest import drain
from tests.testtasks import calls


def _instant(seconds_from_now: float) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def runs_of(client, job_id: str) -> list[dict]:
    return client.get(f"/v1/jobs/{job_id}/runs").json_body["items"]


@pytest.mark.parametrize("due", ["0s", "PT0S", "0ms", "PAST_INSTANT"])
def test_native_due_time_now_or_past_fires_once(client, due):
    due = _instant(-30) if due == "PAST_INSTANT" else due
    job = create(
        client, task="tests.count", kwargs={"key": f"due-{due}"}, schedule=None, due_time=due
    )
    assert job["next_run_at"] == job["created_at"]  # due at once: at the creation instant
    assert drain() >= 1
    assert calls(f"due-{due}") == 1
    (run,) = runs_of(client, job["id"])
    assert run["status"] == "SUCCEEDED"
    got = client.get(f"/v1/jobs/{job['id']}").json_body
    assert got["next_run_at"] is None  # fired: nothing left, not "enabled forever"
    assert drain() == 0 and calls(f"due-{due}") == 1  # exactly once


def test_native_recurring_schedule_with_due_now_fires_first_at_once(client):
    job = create(client, task="tests.count", kwargs={"key": "rec-due"}, due_time="0s")
    assert job["schedule"] == "0 2 * * *"
    drain()
    assert calls("rec-due") == 1
    got = client.get(f"/v1/jobs/{job['id']}").json_body
    assert got["enabled"] and got["next_run_at"] > datetime.now(UTC).strftime("%Y-%m-%dT")


def test_past_due_time_with_a_ttl_already_over_is_a_400_naming_ttl(client):
    body = {"name": "late", "task": "echo", "schedule": "@hourly", "due_time": _instant(-7200)}
    response = send(client, "POST", "/v1/jobs", {**body, "end_at": _instant(-3600)})
    assert response.status_code == 400
    assert response.json_body["error"]["details"]["field"] == "end_at"


@pytest.mark.parametrize("prefix", ["/v1.0-alpha1/jobs", "/v1.0/jobs"])
def test_dapr_due_time_0s_fires_once_and_the_job_is_gone(client, prefix):
    response = send(client, "POST", f"{prefix}/now", {"dueTime": "0s", "data": {"k": 1}})
    assert response.status_code == 204
    drain()
    (job,) = client.get("/v1/jobs").json_body["items"]
    (run,) = runs_of(client, job["id"])
    assert (run["status"], run["result"]) == ("SUCCEEDED", {"k": 1})
    assert client.get(f"{prefix}/now").status_code == 404  # used up, as in Dapr


def test_dapr_schedule_with_due_time_0s_fires_first_at_once(client):
    send(client, "POST", "/v1.0/jobs/rec", {"schedule": "@hourly", "dueTime": "0s", "data": 2})
    drain()
    (job,) = client.get("/v1/jobs").json_body["items"]
    assert [r["status"] for r in runs_of(client, job["id"])] == ["SUCCEEDED"]
    assert client.get("/v1.0/jobs/rec").status_code == 200


def test_a_past_at_expression_fires_at_once(client):
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    job = create(client, task="tests.count", kwargs={"key": "at-past"}, schedule=f"at({past})")
    drain()
    assert calls("at-past") == 1
    assert [r["status"] for r in runs_of(client, job["id"])] == ["SUCCEEDED"]


def test_an_update_after_the_due_fire_does_not_fire_it_again(client):
    job = create(client, task="tests.count", kwargs={"key": "once-only"}, due_time="0s")
    drain()
    for change in ({"description": "x"}, {"timezone": "Europe/Paris"}, {"schedule": "0 3 * * *"}):
        response = send(client, "PATCH", f"/v1/jobs/{job['id']}", change)
        assert response.status_code == 200, response.json_body
        drain()
    assert calls("once-only") == 1
    assert len(runs_of(client, job["id"])) == 1


def test_a_minute_cron_with_a_due_time_fires_on_its_schedule_too(client):
    """Found by the state machine: a minute-precision schedule with a due time took the SQS
    path for its due fire, and the worker then treated every fire of its cron schedule as a
    heartbeat to plan (the next minute's fires) instead of running it."""
    from app import worker

    job = create(client, task="tests.count", kwargs={"key": "cron-due"}, due_time="0s")
    drain()
    assert calls("cron-due") == 1
    assert job["expressions"] == ["cron(0 2 * * ? *)"]  # the due fire went to SQS itself
    fire = {
        "job_id": job["id"],
        "tenant": "default",
        "schedule": f"job-{job['id']}",
        "scheduled_time": "2030-01-01T02:00:00Z",
    }
    assert worker(fire, None)["status"] == "SUCCEEDED"
    assert calls("cron-due") == 2
