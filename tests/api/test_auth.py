"""API keys, tenants and roles: headers, 401/403, the role matrix, and a tenant-leak walk."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.api.routing import ROUTES
from chalicelib.cli import main as cli
from tests.api.helpers import create, job_body, send
from tests.conftest import drain


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer {key}"},
        {"authorization": "bearer {key}"},
        {"X-API-KEY": "{key}"},
        {"X-Vitam-Key": "{key}"},
    ],
)
def test_every_accepted_header_carries_the_key(client, new_key, header):
    key = new_key()
    headers = {k: v.format(key=key) for k, v in header.items()}
    assert client.as_key(None).get("/v1/jobs", headers=headers).status_code == 200


@pytest.mark.parametrize("key", [None, "bl_unknown", ""])
def test_missing_or_unknown_key_is_a_401_with_a_challenge(client, key):
    response = client.as_key(key).get("/v1/jobs")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="beatless"'
    assert response.json_body["error"]["code"] == "unauthorized"


def test_status_and_the_documents_are_the_only_open_routes(client):
    """The OpenAPI documents and the console's files hold no data: a browser opens them without
    a key (issue 18); every data route still needs one."""
    anonymous = client.as_key(None)
    assert anonymous.get("/v1/status").status_code == 200
    for path in ("/openapi", "/openapi.json", "/openapi/native.json", "/console/", "/docs"):
        assert anonymous.get(path).status_code == 200, path
    assert anonymous.get("/v1/jobs").status_code == 401
    assert anonymous.get("/v1/keys").status_code == 401


def test_keys_are_created_shown_once_listed_without_secret_and_revoked(client):
    response = send(client, "POST", "/v1/keys", {"role": "user", "owner": "ann"})
    assert response.status_code == 201
    created = response.json_body
    assert created["key"].startswith("bl_") and len(created["key"]) > 40
    assert (created["tenant"], created["role"], created["owner"]) == ("default", "user", "ann")
    ann = client.as_key(created["key"])
    assert ann.get("/v1/jobs").status_code == 200
    listed = client.get("/v1/keys").json_body["items"]
    assert created["id"] in {k["id"] for k in listed}
    assert all(k["key"] is None for k in listed)
    assert created["key"] not in json.dumps(listed)
    assert client.delete(f"/v1/keys/{created['id']}").status_code == 204
    assert ann.get("/v1/jobs").status_code == 401  # revoked: refused at once
    assert client.delete("/v1/keys/01m00000000000000000000000").status_code == 404


def test_key_routes_are_for_admins(client, new_key):
    user = client.as_key(new_key(role="user"))
    assert user.get("/v1/keys").status_code == 403
    assert send(user, "POST", "/v1/keys", {"role": "admin"}).status_code == 403
    assert send(client, "POST", "/v1/keys", {"role": "root"}).status_code == 400


def test_users_read_everything_and_change_only_what_they_created(client, new_key):
    ann = client.as_key(new_key(owner="ann"))
    bob = client.as_key(new_key(owner="bob"))
    admins = create(client, name="admins")
    anns = create(ann, name="anns")
    assert anns["id"] in {j["id"] for j in bob.get("/v1/jobs").json_body["items"]}
    assert bob.get(f"/v1/jobs/{anns['id']}").status_code == 200
    for method, path, body in [
        ("PATCH", f"/v1/jobs/{anns['id']}", {"description": "x"}),
        ("PUT", f"/v1/jobs/{anns['id']}", job_body(name="anns")),
        ("POST", f"/v1/jobs/{anns['id']}/pause", None),
        ("POST", f"/v1/jobs/{anns['id']}/resume", None),
        ("DELETE", f"/v1/jobs/{anns['id']}", None),
        ("PATCH", f"/v1/jobs/{admins['id']}", {"description": "x"}),
    ]:
        response = send(bob, method, path, body)
        assert response.status_code == 403, (method, path)
        assert response.json_body["error"]["code"] == "forbidden"
    assert send(ann, "PATCH", f"/v1/jobs/{anns['id']}", {"description": "mine"}).status_code == 200
    assert (
        send(client, "PATCH", f"/v1/jobs/{anns['id']}", {"description": "admin"}).status_code == 200
    )
    assert bob.post(f"/v1/jobs/{anns['id']}/trigger").status_code == 202  # users create runs


def test_users_cancel_and_retry_only_their_runs_or_their_jobs_runs(client, new_key):
    ann = client.as_key(new_key(owner="ann"))
    bob = client.as_key(new_key(owner="bob"))
    anns_run = send(ann, "POST", "/v1/tasks", {"task": "echo"}).json_body
    assert bob.delete(f"/v1/tasks/{anns_run['id']}").status_code == 403
    assert ann.delete(f"/v1/tasks/{anns_run['id']}").status_code == 200
    anns_job = create(ann, name="scheduled")
    triggered = bob.post(f"/v1/jobs/{anns_job['id']}/trigger").json_body
    assert ann.delete(f"/v1/tasks/{triggered['id']}").status_code == 200  # a run of her job
    failing = send(bob, "POST", "/v1/tasks", {"task": "fail"}).json_body
    drain()
    assert ann.post(f"/v1/tasks/{failing['id']}/retry").status_code == 403
    assert bob.post(f"/v1/tasks/{failing['id']}/retry").status_code == 202


def test_created_by_is_recorded_from_the_key(client, new_key):
    ann = client.as_key(new_key(owner="ann"))
    job = create(ann, name="x")
    from chalicelib.storage import JobModel

    assert JobModel.get("default", job["id"]).created_by == "ann"


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)


def test_another_tenants_ids_answer_404_and_lists_never_leak(client, new_key):
    # GIVEN everything tenant "default" can have
    job = create(client, name="secret-job-name")
    run = send(
        client, "POST", "/v1/tasks", {"task": "echo", "data": {"secret": "s3cr3t"}}
    ).json_body
    drain()
    key = send(client, "POST", "/v1/keys", {"role": "user", "owner": "secret-owner"}).json_body
    ids = {"job_id": job["id"], "run_id": run["id"], "key_id": key["id"]}
    secrets = [job["id"], run["id"], key["id"], "secret-job-name", "s3cr3t", "secret-owner"]
    # WHEN another tenant's admin walks every route with those ids
    other = client.as_key(new_key(tenant="other", role="admin"))
    bodies = {
        "/v1/jobs": job_body(name="theirs"),
        "/v1/jobs/{job_id}": job_body(name="theirs"),
        "/v1/tasks": {"task": "echo"},
        "/v1/keys": {"role": "user"},
        "/v1/schedules/preview": {"schedule": "@daily"},
        "/v1/allowed-hosts": {"hosts": []},
    }
    walked = 0
    for doc in (d for d in ROUTES if d.face == "native"):
        path = _fill(doc.path, ids)
        body = bodies.get(doc.path) if doc.method in ("POST", "PUT", "PATCH") else None
        response = send(other, doc.method, path, body)
        walked += 1
        # THEN ids of the first tenant are unknown, and nothing of it shows anywhere
        if "{" in doc.path:
            assert response.status_code == 404, (doc.method, doc.path, response.json_body)
        else:
            assert response.status_code < 400, (doc.method, doc.path, response.json_body)
        text = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
        # (a 404 may echo the id the caller sent, exactly as for a missing one)
        leaks = [secret for secret in secrets if secret in text and secret not in path]
        assert not leaks, (doc.method, doc.path, leaks)
    assert walked == len([d for d in ROUTES if d.face == "native"]) >= 20
    # AND the first tenant's things are untouched
    assert client.get(f"/v1/jobs/{job['id']}").json_body["version"] == 1
    assert client.get(f"/v1/tasks/{run['id']}").json_body["status"] == "SUCCEEDED"


def test_a_fire_carrying_another_tenant_is_refused(client):
    from app import worker

    job = create(client)
    answer = worker(
        {"job_id": job["id"], "tenant": "other", "scheduled_time": "2030-01-01T00:00:00Z"}, None
    )
    assert answer["status"] == "SKIPPED"
    assert client.get(f"/v1/jobs/{job['id']}").json_body["total_run_count"] == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"task": "echo", "args": ["x" * 70_000]}, 413, "args"),
        ({"task": "echo", "data": {"blob": "x" * 70_000}}, 413, "data"),
        ({"task": "echo", "kwargs": {"k": "x" * 300_000}}, 413, "body"),
    ],
)
def test_oversized_payloads_are_413s_naming_the_field(client, body, status, field):
    response = send(client, "POST", "/v1/tasks", body)
    assert response.status_code == status
    assert response.json_body["error"]["details"]["field"] == field


def test_cli_creates_lists_and_revokes_keys(client, capsys):
    assert cli(["keys", "create", "--tenant", "cli", "--role", "admin", "--owner", "ops"]) == 0
    key = capsys.readouterr().out.strip()
    assert client.as_key(key).get("/v1/jobs").status_code == 200
    assert cli(["keys", "list", "--tenant", "cli"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    listed = json.loads(line)
    assert (listed["role"], listed["owner"], listed["disabled"]) == ("admin", "ops", False)
    assert key not in line
    assert cli(["keys", "revoke", "--tenant", "cli", listed["id"]]) == 0
    assert client.as_key(key).get("/v1/jobs").status_code == 401
    assert cli(["keys", "create", "--tenant", "Bad Tenant!"]) == 2
