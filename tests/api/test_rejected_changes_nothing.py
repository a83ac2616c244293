"""A rejected request changes nothing, in every face: each face verb is one core operation
that validates before it writes (issue 13, item 2)."""

from __future__ import annotations

import pytest

from tests.api.helpers import create, send
from tests.conftest import drain
from tests.testtasks import calls


def _native_job(client) -> dict:
    (job,) = client.get("/v1/jobs").json_body["items"]
    return job


@pytest.mark.parametrize("prefix", ["/v1.0-alpha1/jobs", "/v1.0/jobs"])
@pytest.mark.parametrize(
    "bad",
    [
        {"schedule": "not a cron"},
        {"dueTime": "tomorrow"},
        {"schedule": "@hourly", "repeats": 0},
        {"schedule": "@hourly", "ttl": "-1h"},
    ],
)
def test_dapr_failed_overwrite_keeps_the_job(client, prefix, bad):
    send(client, "POST", f"{prefix}/d1", {"schedule": "@daily", "data": {"v": 1}})
    before = client.get(f"{prefix}/d1").json_body
    job_before = _native_job(client)
    response = send(client, "POST", f"{prefix}/d1", {**bad, "overwrite": True})
    assert response.status_code == 400
    assert client.get(f"{prefix}/d1").json_body == before
    assert _native_job(client) == job_before


def test_dapr_a_used_up_name_is_free_again_and_fires_afresh(client):
    send(client, "POST", "/v1.0/jobs/r", {"dueTime": "0s", "data": "a"})
    drain()
    assert client.get("/v1.0/jobs/r").status_code == 404  # the one-shot fired and is gone
    again = send(client, "POST", "/v1.0/jobs/r", {"dueTime": "0s", "data": "b"})
    assert again.status_code == 204  # no overwrite needed, as in Dapr
    drain()
    runs = client.get("/v1/tasks").json_body["items"]
    assert sorted(r["result"] for r in runs) == ["a", "b"]


def test_dapr_overwrite_starts_the_repeats_afresh(client):
    from app import worker

    send(client, "POST", "/v1.0/jobs/n", {"schedule": "@hourly", "repeats": 2})
    job = _native_job(client)
    fire = {"job_id": job["id"], "tenant": "default", "scheduled_time": "2030-01-01T01:00:00Z"}
    assert worker(fire, None)["status"] == "SUCCEEDED"
    body = {"schedule": "@hourly", "repeats": 2, "overwrite": True}
    assert send(client, "POST", "/v1.0/jobs/n", body).status_code == 204
    for hour in (2, 3):
        when = f"2030-01-01T0{hour}:00:00Z"
        assert worker(fire | {"scheduled_time": when}, None)["status"] == "SUCCEEDED"
    assert client.get("/v1.0/jobs/n").status_code == 404  # two fires after the overwrite


def test_udata_rejected_put_changes_nothing(client):
    created = send(
        client,
        "POST",
        "/api/1/workers/jobs",
        {"name": "u", "task": "echo", "crontab": {"hour": "3"}, "description": "keep"},
    ).json_body
    before = client.get(f"/api/1/workers/jobs/{created['id']}").json_body
    for bad in (
        {"crontab": {"minute": "61"}},
        {"interval": {"every": 0, "period": "hours"}},
        {"task": "no.such.task"},
        {"crontab": {"hour": "4"}, "interval": {"every": 1, "period": "hours"}},
    ):
        response = send(client, "PUT", f"/api/1/workers/jobs/{created['id']}", bad)
        assert response.status_code == 400, (bad, response.json_body)
        assert client.get(f"/api/1/workers/jobs/{created['id']}").json_body == before


@pytest.mark.parametrize(
    "bad",
    [
        {"schedule": "61 * * * *"},
        {"task": "no.such.task"},
        {"due_time": "yesterday"},
        {"timezone": "Mars/Olympus"},
        {"repeats": 0},
    ],
)
def test_native_rejected_patch_and_put_change_nothing(client, bad):
    job = create(client, task="tests.count", kwargs={"key": "native-keep"})
    before = client.get(f"/v1/jobs/{job['id']}").json_body
    assert send(client, "PATCH", f"/v1/jobs/{job['id']}", bad).status_code in (400, 422)
    full = {k: before[k] for k in ("name", "task", "kwargs", "schedule")} | bad
    assert send(client, "PUT", f"/v1/jobs/{job['id']}", full).status_code in (400, 422)
    assert client.get(f"/v1/jobs/{job['id']}").json_body == before
    assert calls("native-keep") == 0
