"""Contract tests of the Alteryx Server v3 jobs face."""

from __future__ import annotations

import json
import threading
import time

import pytest

from chalicelib import services
from tests.api.helpers import create, send
from tests.conftest import drain
from tests.testtasks import calls

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
    response = client.get(f"{BASE}/jobs/{job['id']}?includeMessages=maybe")
    assert response.status_code == 400
    assert "includeMessages" in response.json_body["message"]


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
def test_priority_maps_to_queues_and_is_shown_as_sent(client, priority, queue):
    workflow = create(client)
    job = run_now(client, workflow["id"], priority=priority)
    assert client.get(f"/v1/tasks/{job['id']}").json_body["queue"] == queue
    assert job["priority"] == priority
    assert client.get(f"{BASE}/jobs/{job['id']}").json_body["priority"] == priority


def test_no_priority_runs_on_the_workflows_own_queue(client):
    workflow = create(client, queue="low")
    job = run_now(client, workflow["id"])
    assert client.get(f"/v1/tasks/{job['id']}").json_body["queue"] == "low"
    assert (job["priority"], job["workerTag"]) == ("Default", "")


def test_worker_tag_names_a_queue(client):
    workflow = create(client)
    job = run_now(client, workflow["id"], workerTag="low")
    assert client.get(f"/v1/tasks/{job['id']}").json_body["queue"] == "low"
    assert job["workerTag"] == "low"


def test_worker_tag_is_kept_as_sent(client):
    workflow = create(client)
    job = run_now(client, workflow["id"], workerTag="gpu-pool", priority="Critical")
    assert (job["workerTag"], job["priority"]) == ("gpu-pool", "Critical")
    assert client.get(f"{BASE}/jobs/{job['id']}").json_body["workerTag"] == "gpu-pool"


def test_a_form_body_runs_a_workflow_with_its_questions(client):
    workflow = create(client, task="tests.chatty", kwargs={"lines": 5})
    body = "priority=High&workerTag=&questions%5B0%5D%5Bname%5D=lines&questions%5B0%5D%5Bvalue%5D=1"
    response = client.post(
        f"{BASE}/workflows/{workflow['id']}/jobs",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=body,
    )
    assert response.status_code == 200, response.json_body
    assert response.json_body["priority"] == "High"
    drain()
    full = client.get(f"{BASE}/jobs/{response.json_body['id']}").json_body
    assert [m["text"] for m in full["messages"]] == ["line 0"]


@pytest.mark.parametrize(
    ("questions", "named"),
    [
        ([{"name": "nope", "value": "1"}], "nope"),
        ([{"name": "lines", "value": "many"}], "lines"),
        ([{"value": "1"}], "questions.0.name"),
        ("lines=1", "questions"),
    ],
)
def test_a_question_the_task_cannot_take_is_a_400_naming_it(client, questions, named):
    workflow = create(client, task="tests.chatty")
    response = send(
        client, "POST", f"{BASE}/workflows/{workflow['id']}/jobs", {"questions": questions}
    )
    assert response.status_code == 400, response.json_body
    assert named in response.json_body["message"]
    assert client.get(f"{BASE}/workflows/{workflow['id']}/jobs").json_body == []


def test_questions_are_the_tasks_parameters(client):
    workflow = create(client, task="tests.flaky", kwargs={"key": "k", "failures": 0})
    questions = client.get(f"{BASE}/workflows/{workflow['id']}/questions").json_body
    assert questions == [
        {
            "name": "key",
            "questionType": "QuestionTextBox",
            "description": "key (str, required)",
            "value": "k",
            "multiple": False,
            "items": [],
        },
        {
            "name": "failures",
            "questionType": "QuestionNumericUpDown",
            "description": "failures (int, required)",
            "value": "0",
            "multiple": False,
            "items": [],
        },
    ]


def test_workflows_are_listed_and_read_with_the_swaggers_fields(client):
    workflow = create(client, name="report", description="the nightly report")
    listed = client.get(f"{BASE}/workflows").json_body
    assert [w["name"] for w in listed] == ["report"]
    assert set(listed[0]) == {
        "id",
        "sourceAppId",
        "name",
        "ownerId",
        "dateCreated",
        "publishedVersionNumber",
        "isAmp",
        "executionMode",
    }
    one = client.get(f"{BASE}/workflows/{workflow['id']}").json_body
    assert (one["id"], one["comments"], one["runCount"]) == (
        workflow["id"],
        "the nightly report",
        0,
    )
    assert client.get(f"{BASE}/workflows?name=other").json_body == []
    assert client.get(f"{BASE}/workflows/{'0' * 26}").status_code == 404


def test_both_views_of_the_workflow_list_match_the_published_document(client):
    """schemathesis ST108: ``view=Full`` answered full views where the document promised only
    reduced ones."""
    from jsonschema import Draft202012Validator

    create(client, name="report")
    document = client.get("/openapi/alteryx.json").json_body
    schema = document["paths"]["/webapi/v3/workflows"]["get"]["responses"]["200"]["content"]
    validator = Draft202012Validator(
        {**schema["application/json"]["schema"], "components": document["components"]}
    )
    for view in ("Default", "Full"):
        listed = client.get(f"{BASE}/workflows?view={view}").json_body
        assert listed and not list(validator.iter_errors(listed)), view


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
    response = user.get(f"{BASE}/jobs/{job['id']}/messages")
    assert (response.status_code, response.json_body) == (
        401,
        {"message": "Authorization has been denied for this request."},
    )
    assert user.get(f"{BASE}/jobs/{job['id']}").status_code == 200


def test_a_failed_jobs_messages_include_the_error(client):
    workflow = create(client, task="fail", kwargs={"message": "disk full"})
    job = run_now(client, workflow["id"])
    drain()
    full = client.get(f"{BASE}/jobs/{job['id']}").json_body
    assert (full["status"], full["disposition"]) == ("Completed", "Error")
    assert full["messages"][-1]["status"] == 3
    assert "disk full" in full["messages"][-1]["text"]


def test_delete_a_queued_job_removes_it(client):
    workflow = create(client, task="tests.count", kwargs={"key": "alteryx-queued"})
    job = run_now(client, workflow["id"])
    response = client.delete(f"{BASE}/jobs/{job['id']}")
    assert (response.status_code, response.json_body) == (200, {"message": "Deleted Successfully."})
    drain()
    assert calls("alteryx-queued") == 0
    assert client.get(f"{BASE}/jobs/{job['id']}").status_code == 404
    assert client.get(f"{BASE}/workflows/{workflow['id']}/jobs").json_body == []


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
    cancelled = client.get(f"{BASE}/jobs/{job['id']}").json_body
    assert (cancelled["status"], cancelled["disposition"]) == ("Cancelled", "Cancelled")
    listed = client.get(f"{BASE}/workflows/{workflow['id']}/jobs").json_body
    assert listed[0]["status"] == "Cancelled"


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


def test_the_job_listing_pages_and_filters(client, new_key):
    workflow = create(client, name="lister")
    ann = client.as_key(new_key(role="user", owner="ann"))
    mine = [run_now(client, workflow["id"]) for _ in range(3)]
    theirs = run_now(ann, workflow["id"], priority="Low")
    page = client.get(f"{BASE}/jobs?limit=2&offset=0").json_body
    assert [j["jobId"] for j in page["data"]] == [mine[2]["id"], mine[1]["id"]]
    assert page["pagination"] == {
        "currentPage": 1,
        "pageSize": 2,
        "totalItems": 3,
        "totalPages": 2,
        "hasNextPage": True,
        "hasPreviousPage": False,
    }
    first = page["data"][0]
    assert (first["workflowName"], first["workflowId"], first["status"]) == (
        "lister",
        workflow["id"],
        "Queued",
    )
    everyone = client.get(f"{BASE}/jobs?allUsers=true&priorities=Low").json_body
    assert [j["jobId"] for j in everyone["data"]] == [theirs["id"]]
    assert [j["jobId"] for j in ann.get(f"{BASE}/jobs").json_body["data"]] == [theirs["id"]]
    assert ann.get(f"{BASE}/jobs?allUsers=true").status_code == 401
    # a value that is not a boolean is refused, not read as false (schemathesis ST201)
    refused = client.get(f"{BASE}/jobs?allUsers=null")
    assert refused.status_code == 400 and "allUsers" in json.dumps(refused.json_body)
    assert client.get(f"{BASE}/jobs?sortField=Nope").status_code == 400


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token_request(client, body: str, **headers: str):
    return client.as_key(None).post("/webapi/oauth2/token", headers={**FORM, **headers}, body=body)


def test_token_answers_rfc6749_and_authenticates_the_v3_routes(client, new_key):
    secret = new_key(role="user", owner="ann")
    key_id = services.keys().authenticate(secret).key_id
    response = token_request(
        client, f"grant_type=client_credentials&client_id={key_id}&client_secret={secret}"
    )
    assert response.status_code == 200
    assert set(response.json_body) == {"access_token", "token_type", "expires_in"}
    assert (response.json_body["token_type"], response.json_body["expires_in"]) == ("bearer", 3600)
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json_body["access_token"]
    assert secret not in token
    bearer = client.as_key(token)
    assert bearer.get(f"{BASE}/workflows").status_code == 200
    assert bearer.get("/v1/jobs").status_code == 200  # a bearer token is a key everywhere
    # the key itself keeps working, and the token dies with its key
    assert client.as_key(secret).get(f"{BASE}/workflows").status_code == 200
    services.keys().revoke("default", key_id)
    assert bearer.get(f"{BASE}/workflows").status_code == 401


def test_an_expired_or_forged_token_is_a_401(client, new_key, monkeypatch):
    secret = new_key()
    key_id = services.keys().authenticate(secret).key_id
    body = f"grant_type=client_credentials&client_id={key_id}&client_secret={secret}"
    token = token_request(client, body).json_body["access_token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.as_key(forged).get(f"{BASE}/workflows").status_code == 401
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 3601)
    response = client.as_key(token).get(f"{BASE}/workflows")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (
            "grant_type=client_credentials&client_id={id}&client_secret=bl_wrong",
            {},
            401,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials&client_id=someone&client_secret={secret}",
            {},
            401,
            "invalid_client",
        ),
        ("grant_type=client_credentials", {}, 401, "invalid_client"),
        (
            "grant_type=password&client_id={id}&client_secret={secret}",
            {},
            400,
            "unsupported_grant_type",
        ),
        ("client_id={id}&client_secret={secret}", {}, 400, "invalid_request"),
        ("grant_type=client_credentials", {"Authorization": "Basic !!!"}, 401, "invalid_client"),
    ],
)
def test_bad_credentials_answer_as_rfc6749_says(client, new_key, body, headers, status, error):
    secret = new_key()
    key_id = services.keys().authenticate(secret).key_id
    response = token_request(client, body.format(id=key_id, secret=secret), **headers)
    assert response.status_code == status
    assert response.json_body["error"] == error
    assert response.json_body["error_description"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_http_basic_client_authentication(client, new_key):
    import base64

    secret = new_key()
    key_id = services.keys().authenticate(secret).key_id
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    response = token_request(
        client, "grant_type=client_credentials", Authorization=f"Basic {basic}"
    )
    assert response.status_code == 200, response.json_body
