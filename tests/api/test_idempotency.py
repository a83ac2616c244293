"""Idempotency-Key on the creates of every face (issue 19 §3), through the HTTP surface: a
retry with the same key and request answers the first answer again (Idempotent-Replayed: true)
without doing the work twice; another request under the key is a 422 in the face's shape; a
key still in progress is a 409 with Retry-After; keys are per tenant and principal and expire.
The fault-injected version (every AWS call of a create failed in turn, then the retry) is
tests/hardening/test_idempotency_faults.py."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import idempotency
from chalicelib.api import openapi
from chalicelib.api.routing import ROUTES
from chalicelib.storage import IdempotencyModel, JobModel, RunModel
from tests.api.helpers import create, job_body, send
from tests.conftest import drain
from tests.hardening.faults import injecting
from tests.testtasks import calls

KEY = "Idempotency-Key"


def post(client: Any, path: str, body: Any, key: str | None = "k-1", **headers: str) -> Any:
    return send(client, "POST", path, body, **({KEY: key} if key is not None else {}), **headers)


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the records' clock ``seconds`` ahead."""
    now = idempotency._now()
    monkeypatch.setattr(idempotency, "_now", lambda: now + seconds)


def test_the_same_key_and_body_answers_the_first_answer_without_a_second_job(client):
    first = post(client, "/v1/jobs", job_body())
    again = post(
        client, "/v1/jobs", {"schedule": "0 2 * * *", "task": "echo", "name": "nightly-report"}
    )
    assert first.status_code == again.status_code == 201
    assert again.body == first.body  # the same bytes: key order and spacing do not matter
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(list(JobModel.query("default"))) == 1


def test_without_the_header_each_post_is_a_new_request(client):
    runs = [post(client, "/v1/tasks", {"task": "echo"}, key=None) for _ in range(2)]
    assert {r.status_code for r in runs} == {202}
    assert runs[0].json_body["id"] != runs[1].json_body["id"]


def test_a_task_submitted_twice_with_one_key_runs_once(client):
    body = {"task": "tests.count", "kwargs": {"key": "idem-once"}}
    first, again = post(client, "/v1/tasks", body), post(client, "/v1/tasks", body)
    assert again.json_body["id"] == first.json_body["id"]
    drain()
    assert calls("idem-once") == 1
    assert len(list(RunModel.query("default"))) == 1


def test_the_same_key_with_another_body_or_route_is_a_422_naming_the_header(client):
    assert post(client, "/v1/jobs", job_body()).status_code == 201
    other = post(client, "/v1/jobs", job_body(name="another"))
    assert other.status_code == 422
    assert other.json_body["error"]["details"]["field"] == KEY
    assert "another request" in other.json_body["error"]["message"]
    assert post(client, "/v1/tasks", {"task": "echo"}).status_code == 422  # another route
    assert len(list(JobModel.query("default"))) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_a_400_naming_the_header(client, key):
    answer = post(client, "/v1/jobs", job_body(), key=key)
    assert answer.status_code == 400, answer.json_body
    assert answer.json_body["error"]["details"]["field"] == KEY
    assert list(JobModel.query("default")) == []


def test_a_key_in_progress_is_a_409_with_retry_after_until_its_lease_runs_out(client, monkeypatch):
    print_ = idempotency.fingerprint("POST", "/v1/tasks", {}, b'{"task": "echo"}')
    claim = idempotency.begin("default", "test-admin", "k-1", print_)  # a request under way
    assert isinstance(claim, idempotency.Claim)
    busy = post(client, "/v1/tasks", {"task": "echo"})
    assert busy.status_code == 409
    assert busy.json_body["error"]["details"]["field"] == KEY
    assert 0 < int(busy.headers["Retry-After"]) <= idempotency.LEASE_SECONDS
    later(monkeypatch, idempotency.LEASE_SECONDS + 1)  # its Lambda died: the retry takes over
    taken = post(client, "/v1/tasks", {"task": "echo"})
    assert taken.status_code == 202
    idempotency.complete(claim, 202, "{}", {})  # the late first attempt stores nothing
    assert post(client, "/v1/tasks", {"task": "echo"}).body == taken.body


def test_keys_are_per_tenant_and_principal(client, new_key):
    mine = post(client, "/v1/tasks", {"task": "echo"})
    colleague = post(client.as_key(new_key(owner="someone")), "/v1/tasks", {"task": "echo"})
    elsewhere = post(client.as_key(new_key("acme")), "/v1/tasks", {"task": "echo"})
    ids = {r.json_body["id"] for r in (mine, colleague, elsewhere)}
    assert len(ids) == 3 and {r.status_code for r in (mine, colleague, elsewhere)} == {202}
    # Another key of the same owner is the same principal: it may retry the request.
    same_owner = post(
        client.as_key(new_key(role="admin", owner="test-admin")), "/v1/tasks", {"task": "echo"}
    )
    assert same_owner.json_body["id"] == mine.json_body["id"]


def test_a_refusal_is_replayed_but_a_conflict_and_a_503_are_redone(client):
    bad = post(client, "/v1/jobs", job_body(schedule="not a schedule"), key="k-400")
    again = post(client, "/v1/jobs", job_body(schedule="not a schedule"), key="k-400")
    assert bad.status_code == again.status_code == 400
    assert again.headers["Idempotent-Replayed"] == "true" and again.body == bad.body

    taken = create(client, name="taken")
    clash = post(client, "/v1/jobs", job_body(name="taken"), key="k-409")
    assert clash.status_code == 409
    send(client, "DELETE", f"/v1/jobs/{taken['id']}")
    assert post(client, "/v1/jobs", job_body(name="taken"), key="k-409").status_code == 201

    with injecting() as injector:
        injector.arm(2, "server")  # after the key's GetItem and the record's PutItem: the job's
        failed = post(client, "/v1/jobs", job_body(name="later"), key="k-503")
        injector.disarm()
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    done = post(client, "/v1/jobs", job_body(name="later"), key="k-503")
    assert done.status_code == 201 and "Idempotent-Replayed" not in done.headers


def test_a_key_expires_after_24_hours(client, monkeypatch):
    assert post(client, "/v1/jobs", job_body()).status_code == 201
    record = next(IdempotencyModel.scan())
    assert record.expires_at.timestamp() == pytest.approx(idempotency._now() + 86400, abs=5)
    later(monkeypatch, 86400 + 1)  # DynamoDB's TTL deletes it within hours: until then, absent
    assert post(client, "/v1/jobs", job_body(name="tomorrow")).status_code == 201


def test_a_created_key_is_replayed_without_its_secret(client):
    first = post(client, "/v1/keys", {"role": "user"})
    again = post(client, "/v1/keys", {"role": "user"})
    assert first.json_body["key"].startswith("bl_")
    assert again.json_body == {**first.json_body, "key": None}  # shown once, never stored
    assert not any("bl_" in str(r.response) for r in IdempotencyModel.scan())
    assert len(client.get("/v1/keys").json_body["items"]) == 2  # the admin's and this one


def test_udata_create_is_idempotent(client):
    body = {"name": "u", "task": "echo", "crontab": {"minute": "*/5"}}
    first = post(client, "/api/1/workers/jobs", body)
    again = post(client, "/api/1/workers/jobs", body)
    assert first.status_code == again.status_code == 201
    assert again.body == first.body and again.headers["Idempotent-Replayed"] == "true"
    other = post(client, "/api/1/workers/jobs", body | {"name": "v"})
    assert other.status_code == 422 and set(other.json_body) == {"message", "errors"}


def test_dapr_schedule_is_idempotent_and_answers_a_reused_key_as_its_400(client):
    first = post(client, "/v1.0-alpha1/jobs/nightly", {"schedule": "@daily"})
    again = post(client, "/v1.0-alpha1/jobs/nightly", {"schedule": "@daily"})
    assert first.status_code == again.status_code == 204
    assert again.headers["Idempotent-Replayed"] == "true"
    other = post(client, "/v1.0-alpha1/jobs/nightly", {"schedule": "@hourly"})
    assert other.status_code == 400  # Dapr answers what it cannot honour 400, not 422
    assert other.json_body["details"][0]["metadata"] == {"field": KEY}


def test_alteryx_run_is_idempotent(client):
    workflow = create(client, task="tests.count", kwargs={"key": "idem-alteryx"})
    path = f"/webapi/v3/workflows/{workflow['id']}/jobs"
    first, again = (
        post(client, path, {"priority": "High"}),
        post(client, path, {"priority": "High"}),
    )
    assert first.status_code == again.status_code == 200
    assert again.json_body["id"] == first.json_body["id"]
    assert post(client, path, {"priority": "Low"}).json_body == {
        "message": f"{KEY}: was already used with another request (method, path or body); "
        "use a new key for a new request"
    }
    drain()
    assert calls("idem-alteryx") == 1


def test_vitam_submit_is_idempotent(client):
    body = {"Step": "s", "actions": [{"action": "echo", "arguments": {}}]}
    first = post(client, "/vitam/v1/tasks", body, **{"X-Tenant-Id": "default"})
    again = post(client, "/vitam/v1/tasks", body, **{"X-Tenant-Id": "default"})
    assert first.status_code == again.status_code == 201
    assert again.body == first.body
    other = post(client, "/vitam/v1/tasks", body | {"Step": "t"}, **{"X-Tenant-Id": "default"})
    assert other.status_code == 422 and other.json_body["httpCode"] == 422


def test_every_create_documents_the_header_and_nothing_else_does():
    flagged = {(r.face, r.method, r.path) for r in ROUTES if r.idempotent}
    assert {
        ("native", "POST", "/v1/jobs"),
        ("native", "POST", "/v1/tasks"),
        ("native", "POST", "/v1/jobs/{job_id}/trigger"),
        ("native", "POST", "/v1/keys"),
        ("udata", "POST", "/api/1/workers/jobs"),
        ("dapr", "POST", "/v1.0-alpha1/jobs/{name}"),
        ("dapr", "POST", "/v1.0/jobs/{name}"),
        ("alteryx", "POST", "/webapi/v3/workflows/{workflow_id}/jobs"),
        ("vitam", "POST", "/vitam/v1/tasks"),
    } <= flagged
    assert all(method == "POST" for _, method, _ in flagged)
    for face in openapi.FACES:
        for path, operations in openapi.document(face)["paths"].items():
            for method, operation in operations.items():
                names = {p["name"] for p in operation.get("parameters", [])}
                assert (KEY in names) == ((face, method.upper(), path) in flagged), (face, path)
                if KEY in names:
                    assert "409" in operation["responses"]
