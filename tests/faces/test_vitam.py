"""Contract tests of the Vitam worker tasks face."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.api.helpers import send
from tests.conftest import drain

BASE = "/vitam/v1"
STEP = {
    "Step": "ingest",
    "otherInfo": "other info",
    "actions": [
        {
            "action": "tests.add",
            "arguments": {"n": 2},
            "results": {"value": None},
            "status": "Running",
            "post_assign": [],
            "start_time": None,
            "end_time": None,
        },
        {"action": "tests.add", "arguments": {"n": 3}},
    ],
}


@pytest.fixture
def vitam(client, new_key):
    """A client with a key of tenant "0", sending X-Vitam-Key and X-Tenant-Id as Vitam does."""
    key = new_key(tenant="0", role="admin", owner="vitam")
    base = client.as_key(None)

    def call(method: str, path: str, body=None, tenant: str | None = "0", **headers):
        all_headers = {"X-Vitam-Key": key, "X-Application-Id": "SESSION-ID-00001", **headers}
        if tenant is not None:
            all_headers["X-Tenant-Id"] = tenant
        return send(base, method, f"{BASE}{path}", body, **all_headers)

    return call


def test_status_is_open_and_carries_a_request_id(client):
    response = client.as_key(None).get(f"{BASE}/status", headers={"X-Request-Id": "AbDUh67jj"})
    assert response.status_code == 200
    assert set(response.json_body) == {"id", "service", "startDate", "status"}
    assert response.json_body["status"] == "Active"
    assert response.headers["X-Request-Id"] == "AbDUh67jj"
    fresh = client.as_key(None).get(f"{BASE}/status")
    assert fresh.headers["X-Request-Id"]


def test_a_step_becomes_a_multi_step_run(vitam):
    response = vitam("POST", "/tasks", STEP)
    assert response.status_code == 201, response.json_body
    task = response.json_body
    assert {
        "id",
        "type",
        "state",
        "task_status",
        "start_date",
        "end_date",
        "expiration_date",
        "result_link",
        "error",
    } <= set(task)
    assert (task["type"], task["state"], task["task_status"]) == ("ingest", "pending", "queued")
    assert task["result_link"] == f"{BASE}/tasks/{task['id']}"
    assert response.headers["X-Request-Id"]
    drain()
    done = vitam("GET", f"/tasks/{task['id']}").json_body
    assert (done["state"], done["task_status"], done["error"]) == ("done", "commit", None)
    assert [a["status"] for a in done["actions"]] == ["OK", "OK"]
    assert [a["results"] for a in done["actions"]] == [{"result": 2}, {"result": 5}]


def test_declared_results_are_filled_from_a_dict_return(vitam):
    step = {
        "Step": "s",
        "actions": [{"action": "echo", "arguments": {"value": 7}, "results": {"kwargs": None}}],
    }
    task = vitam("POST", "/tasks", step).json_body
    drain()
    (action,) = vitam("GET", f"/tasks/{task['id']}").json_body["actions"]
    assert action["results"] == {"kwargs": {"value": 7}}


def test_a_failed_action_shows_the_error_shape(vitam):
    step = {
        "Step": "s",
        "actions": [{"action": "fail", "arguments": {"message": "File is not found"}}],
    }
    task = vitam("POST", "/tasks", step).json_body
    drain()
    done = vitam("GET", f"/tasks/{task['id']}").json_body
    assert (done["state"], done["task_status"]) == ("done", "ko")
    assert done["error"]["message"] == "File is not found"
    assert done["error"]["code"] == "TaskFailed"
    assert set(done["error"]) == {
        "httpCode",  # VitamError's name
        "http_code",  # the seed's
        "code",
        "context",
        "state",
        "message",
        "description",
        "errors",
    }


def test_tenant_header_is_required_and_must_be_the_keys(vitam):
    missing = vitam("GET", "/tasks", tenant=None)
    assert missing.status_code == 412
    assert missing.headers["FullApiVersion"]
    assert missing.headers["X-Request-Id"]
    assert missing.json_body["state"] == "Precondition_Failed"
    foreign = vitam("GET", "/tasks", tenant="1")
    assert foreign.status_code == 401


def test_no_key_is_a_401_in_vitams_shape(client):
    response = client.as_key(None).get(f"{BASE}/tasks", headers={"X-Tenant-Id": "0"})
    assert response.status_code == 401
    assert response.json_body["http_code"] == 401
    assert response.headers["FullApiVersion"]


def test_unknown_action_is_a_400_naming_it(vitam):
    step = {"Step": "s", "actions": [{"action": "echo"}, {"action": "nope"}]}
    response = vitam("POST", "/tasks", step)
    assert response.status_code == 400
    assert "actions.1.action" in response.json_body["message"]


def test_list_in_progress_with_name_and_since_and_next(vitam):
    ids = [
        vitam("POST", "/tasks", {**STEP, "Step": f"abcdef-{i}"}).json_body["id"] for i in range(3)
    ]
    other = vitam("POST", "/tasks", {**STEP, "Step": "zzz"}).json_body["id"]
    listed = vitam("GET", "/tasks", {"query": "name='abcdef*'&since>'2015-07-14'"}).json_body
    assert set(listed["results"]) == set(ids)
    assert listed["context"] == {"query": "name='abcdef*'&since>'2015-07-14'"}
    assert set(listed["hits"]) == {"total", "size", "offset", "limit", "time_out", "next"}
    everything = vitam("GET", "/tasks").json_body["results"]
    assert set(everything) == {*ids, other}
    assert vitam("GET", "/tasks", {"query": "since>'2199-01-01'"}).json_body["results"] == []
    assert vitam("GET", "/tasks", {"query": "owner='me'"}).status_code == 400
    drain()
    assert vitam("GET", "/tasks").json_body["results"] == []  # done: no longer in progress


def test_next_pages_through_in_progress_tasks(vitam, monkeypatch):
    from chalicelib.api import vitam as face

    ids = [vitam("POST", "/tasks", STEP).json_body["id"] for _ in range(3)]
    original = face._in_progress
    monkeypatch.setattr(face, "_in_progress", lambda t, q, limit, c: original(t, q, 2, c))
    first = vitam("GET", "/tasks").json_body
    assert len(first["results"]) == 2 and first["hits"]["next"]
    second = vitam("GET", f"/tasks?next={first['hits']['next']}").json_body
    assert set(first["results"] + second["results"]) == set(ids)
    assert second["hits"]["next"] is None


def test_put_cancels_at_the_next_action_and_409s_when_done(vitam):
    step = {
        "Step": "long",
        "actions": [
            {"action": "sleep", "arguments": {"seconds": 10}},
            {"action": "tests.count", "arguments": {"key": "vitam-after"}},
        ],
    }
    task = vitam("POST", "/tasks", step).json_body
    worker = threading.Thread(target=drain)
    worker.start()
    deadline = time.monotonic() + 5
    while vitam("GET", f"/tasks/{task['id']}").json_body["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert vitam("PUT", f"/tasks/{task['id']}", {"code": 201}).status_code == 200
    worker.join(timeout=10)
    done = vitam("GET", f"/tasks/{task['id']}").json_body
    assert done["task_status"] == "cancelled"
    from tests.testtasks import calls

    assert calls("vitam-after") == 0
    again = vitam("PUT", f"/tasks/{task['id']}", {})
    assert again.status_code == 409
    assert again.json_body["state"] == "Conflict"


def test_put_by_query_cancels_the_matching_tasks(vitam):
    keep = vitam("POST", "/tasks", {**STEP, "Step": "keep"}).json_body["id"]
    drop = [vitam("POST", "/tasks", {**STEP, "Step": "drop-me"}).json_body["id"] for _ in range(2)]
    response = vitam("PUT", "/tasks", {"query": "name='drop*'"})
    assert response.status_code == 200
    assert set(response.json_body["results"]) == set(drop)
    assert vitam("GET", f"/tasks/{keep}").json_body["state"] == "pending"
    assert vitam("GET", f"/tasks/{drop[0]}").json_body["task_status"] == "cancelled"


def test_unknown_and_foreign_ids_are_404s(vitam, client):
    assert vitam("GET", "/tasks/01m00000000000000000000000").status_code == 404
    theirs = send(client, "POST", "/v1/tasks", {"task": "echo"}).json_body["id"]
    response = vitam("GET", f"/tasks/{theirs}")
    assert response.status_code == 404
    assert response.json_body["state"] == "Not_Found"
    assert json.dumps(response.json_body).count(theirs) <= 2  # only the id the caller sent
