"""Contract tests of the Alteryx Server v3 jobs face."""

from __future__ import annotations

import threading
import time

import pytest

from tests.api.helpers import create, send
from tests.conftest import drain

BASE = "/webapi/v3"


def run_now(client, workflow_id: str, **body) -> dict:
    response = send(client, "POST", f"{BASE}/workflows/{workflow_id}/jobs", body or {})
    assert response.status_code == 200, response.json_body
    return response.json_body


def test_workflow_run_and_job_details(client):
    workflow = create(client, task="tests.chatty", kwargs={"lines": 2})
    job = run_now(client, workflow["id"], priority="High")
    assert (job["appId"], job["status"], job["disposition"], job["priority"]) == (
        workflow["id"],
        "Queued",
        "None",
        "High",
    )
    assert "messages" not in job
    drain()
    full = client.get(f"{BASE}/jobs/{job['id']}").json_body
    assert set(full) == {
        "id",
        "appId",
        "createDateTime",
        "status",
        "disposition",
        "outputs",
        "messages",
        "priority",
        "workerTag",
        "runWithE2",
    }
    assert (full["status"], full["disposition"]) == ("Completed", "Success")
    assert full["messages"] == [
        {"status": 1, "text": "line 0", "toolId": 0},
        {"status": 0, "text": "line 1", "toolId": 0},
    ]
    assert full["createDateTime"].endswith("Z")
    reduced = client.get(f"{BASE}/jobs/{job['id']}?includeMessages=false").json_body
    assert "messages" not in reduced
    assert client.get(f"{BASE}/jobs/{job['id']}?includeMessages=maybe").status_code == 400
    assert client.get(f"{BASE}/jobs/{job['id']}?includeMessages=").status_code == 400


@pytest.mark.parametrize(
    ("priority", "queue"),
    [
        ("Critical", "high"),
        ("High", "high"),
        ("Medium", "default"),
        ("Default", "default"),
        ("Low", "low"),
    ],
)
def test_priority_maps_to_queues(client, priority, queue):
    workflow = create(client)
    job = run_now(client, workflow["id"], priority=priority)
    assert client.get(f"/v1/tasks/{job['id']}").json_body["queue"] == queue


def test_worker_tag_names_a_queue(client):
    workflow = create(client)
    job = run_now(client, workflow["id"], workerTag="low")
    assert client.get(f"/v1/tasks/{job['id']}").json_body["queue"] == "low"
    assert job["workerTag"] == "low"


def test_workflow_jobs_lists_its_runs_newest_first(client):
    workflow = create(client)
    first, second = run_now(client, workflow["id"]), run_now(client, workflow["id"])
    listed = client.get(f"{BASE}/workflows/{workflow['id']}/jobs").json_body
    assert [j["id"] for j in listed] == [second["id"], first["id"]]


def test_messages_are_for_admins(client, new_key):
    workflow = create(client, task="tests.chatty", kwargs={"lines": 1})
    job = run_now(client, workflow["id"])
    drain()
    messages = client.get(f"{BASE}/jobs/{job['id']}/messages").json_body
    assert messages == [{"status": 1, "text": "line 0", "toolId": 0}]
    user = client.as_key(new_key(role="user"))
    assert user.get(f"{BASE}/jobs/{job['id']}/messages").status_code == 403
    assert user.get(f"{BASE}/jobs/{job['id']}").status_code == 200


def test_delete_a_queued_job_removes_it(client):
    workflow = create(client, task="tests.count", kwargs={"key": "alteryx-queued"})
    job = run_now(client, workflow["id"])
    response = client.delete(f"{BASE}/jobs/{job['id']}")
    assert (response.status_code, response.json_body) == (200, {"message": "Deleted Successfully."})
    drain()
    assert client.get(f"{BASE}/jobs/{job['id']}").json_body["disposition"] == "Cancelled"


def test_delete_a_running_job_cancels_it(client):
    workflow = create(client, task="sleep", kwargs={"seconds": 10})
    job = run_now(client, workflow["id"])
    worker = threading.Thread(target=drain)
    worker.start()
    deadline = time.monotonic() + 5
    while client.get(f"{BASE}/jobs/{job['id']}").json_body["status"] != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = client.delete(f"{BASE}/jobs/{job['id']}")
    assert response.json_body == {"message": "Cancelled Successfully."}
    worker.join(timeout=10)
    assert client.get(f"{BASE}/jobs/{job['id']}").json_body["disposition"] == "Cancelled"


def test_delete_in_another_state_or_by_someone_else_is_a_400(client, new_key):
    workflow = create(client)
    job = run_now(client, workflow["id"])
    drain()
    response = client.delete(f"{BASE}/jobs/{job['id']}")
    assert (response.status_code, response.json_body) == (
        400,
        {"message": "This job is not in 'Queued' or 'Running' state."},
    )
    queued = run_now(client, workflow["id"])
    user = client.as_key(new_key(role="user", owner="someone"))
    response = user.delete(f"{BASE}/jobs/{queued['id']}")
    assert (response.status_code, response.json_body) == (
        400,
        {"message": "You do not have permission to cancel this job."},
    )


def test_users_cancel_the_jobs_they_triggered(client, new_key):
    workflow = create(client)
    ann = client.as_key(new_key(role="user", owner="ann"))
    job = run_now(ann, workflow["id"])
    assert ann.delete(f"{BASE}/jobs/{job['id']}").json_body == {"message": "Deleted Successfully."}


def test_401_and_404(client, new_key):
    workflow = create(client)
    job = run_now(client, workflow["id"])
    assert client.as_key(None).get(f"{BASE}/jobs/{job['id']}").status_code == 401
    other = client.as_key(new_key(tenant="other", role="admin"))
    for method, path in [
        ("GET", f"{BASE}/jobs/{job['id']}"),
        ("DELETE", f"{BASE}/jobs/{job['id']}"),
        ("GET", f"{BASE}/jobs/{job['id']}/messages"),
        ("GET", f"{BASE}/workflows/{workflow['id']}/jobs"),
        ("POST", f"{BASE}/workflows/{workflow['id']}/jobs"),
    ]:
        response = send(other, method, path, {} if method == "POST" else None)
        assert response.status_code == 404, (method, path)
        assert "message" in response.json_body
    assert (
        send(
            client, "POST", f"{BASE}/workflows/{workflow['id']}/jobs", {"priority": "Urgent"}
        ).status_code
        == 400
    )
