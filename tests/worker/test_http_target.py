"""HTTP targets against a real HTTP server on 127.0.0.1: delivery, signature, refusals, retries."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import get_settings, reset_settings
from tests.api.helpers import create, send
from tests.api.helpers import get_task as get
from tests.api.helpers import submit_task as submit
from tests.conftest import drain
from tests.worker.test_fires import WHEN, fire

DOC = Path(__file__).resolve().parents[2] / "docs" / "targets.md"


class Receiver:
    """A local endpoint: records each request, answers from a script of (status, headers,
    body, delay) (the last entry repeats)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, str], bytes, float]] = [(200, {}, b"ok", 0.0)]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                index = min(len(receiver.requests), len(receiver.answers)) - 1
                status, headers, answer, delay = receiver.answers[index]
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def answer(self, *answers: tuple[int, dict[str, str], bytes, float]) -> None:
        self.answers = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def local(client, monkeypatch):
    """The deployment allows 127.0.0.1 and localhost, and loopback addresses, as make run does."""
    monkeypatch.setenv("BEATLESS_HTTP_ALLOWED_HOSTS", "127.0.0.1,localhost")
    monkeypatch.setenv("BEATLESS_ALLOW_PRIVATE_TARGETS", "loopback")
    reset_settings()
    yield client
    reset_settings()


def target(receiver: Receiver, **fields: Any) -> dict[str, Any]:
    return {"type": "http", "url": receiver.url(), **fields}


def verify_from_doc() -> Any:
    """The receiver's ``verify`` exactly as docs/targets.md prints it."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(blocks[0], namespace)  # the doc's own sample, under test
    return namespace["verify"]


# -- delivery -------------------------------------------------------------------------------


def test_a_scheduled_fire_delivers_signed_with_job_run_time_and_attempt(local, receiver):
    job = create(
        local,
        name="ping",
        task=None,
        target=target(receiver, body={"run": "<beatless.run-id>"}, headers={"X-Team": "a"}),
    )
    assert job["task"] is None and job["target"]["url"] == receiver.url()
    answer = fire(job)
    assert answer["status"] == "SUCCEEDED", answer
    [request] = receiver.requests
    headers = request["headers"]
    assert request["method"] == "POST" and request["path"] == "/hook"
    assert json.loads(request["body"]) == {"run": answer["run_id"]}
    assert headers["content-type"] == "application/json" and headers["x-team"] == "a"
    assert headers["beatless-job-id"] == job["id"]
    assert headers["beatless-run-id"] == answer["run_id"]
    assert headers["beatless-scheduled-time"] == "2030-01-07T09:00:00.000Z"
    assert WHEN.startswith(headers["beatless-scheduled-time"][:19])
    assert headers["beatless-attempt"] == "1"
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    secret = local.get("/v1/signing-secret").json_body["secrets"][0]["secret"]
    assert verify_from_doc()(secret, headers, request["body"])
    assert not verify_from_doc()(secret, headers, request["body"] + b" ")
    assert not verify_from_doc()("whsec_other", headers, request["body"])
    run = get(local, answer["run_id"])
    assert run["task"] is None and run["target"]["type"] == "http"
    assert run["result"]["status"] == 200 and run["result"]["body"] == "ok"
    assert isinstance(run["result"]["latency_ms"], int)


def test_an_ad_hoc_run_through_the_api_records_status_excerpt_and_latency(local, receiver):
    receiver.answer((201, {}, b"x" * 5000, 0.0))
    run = submit(local, target=target(receiver, method="PUT", body="plain text"))
    assert run["task"] is None and run["target"]["method"] == "PUT"
    drain()
    done = get(local, run["id"])
    assert done["status"] == "SUCCEEDED", done
    assert done["result"]["status"] == 201
    assert done["result"]["body"].startswith("x" * 1024) and len(done["result"]["body"]) <= 1025
    [request] = receiver.requests
    assert request["method"] == "PUT" and request["body"] == b"plain text"
    assert request["headers"]["content-type"].startswith("text/plain")
    assert "beatless-job-id" not in request["headers"]
    assert "beatless-scheduled-time" not in request["headers"]
    messages = local.get(f"/v1/tasks/{run['id']}/messages").json_body["items"]
    assert any("answered 201" in m["text"] for m in messages)


def test_after_a_rotation_both_secrets_sign_and_either_verifies(local, receiver):
    old = local.get("/v1/signing-secret").json_body["secrets"]
    assert len(old) == 1 and old[0]["expires_at"] is None
    rotated = send(local, "POST", "/v1/signing-secret/rotate").json_body["secrets"]
    assert [s["secret"] for s in rotated][1] == old[0]["secret"]
    assert rotated[0]["secret"] != old[0]["secret"] and rotated[1]["expires_at"]
    run = submit(local, target=target(receiver, body={"a": 1}))
    drain()
    assert get(local, run["id"])["status"] == "SUCCEEDED"
    request = receiver.requests[0]
    assert request["headers"]["beatless-signature"].count("v1=") == 2
    verify = verify_from_doc()
    for secret in rotated:
        assert verify(secret["secret"], request["headers"], request["body"])


def test_signing_secret_is_for_admins_only(local, new_key):
    user = local.as_key(new_key(role="user"))
    assert user.get("/v1/signing-secret").status_code == 403
    assert send(user, "POST", "/v1/signing-secret/rotate").status_code == 403


def test_each_tenant_signs_with_its_own_secret(local, new_key):
    other = local.as_key(new_key(tenant="other", role="admin"))
    mine = local.get("/v1/signing-secret").json_body["secrets"][0]["secret"]
    theirs = other.get("/v1/signing-secret").json_body["secrets"][0]["secret"]
    assert mine != theirs and mine.startswith("whsec_")


# -- failures -------------------------------------------------------------------------------


def test_a_redirect_is_refused_not_followed(local, receiver):
    receiver.answer((302, {"Location": "http://169.254.169.254/latest"}, b"", 0.0))
    run = submit(local, target=target(receiver), retry={"max_attempts": 3, "initial_seconds": 0})
    drain()
    done = get(local, run["id"])
    assert done["status"] == "FAILED" and done["exc"] == "TargetFailed"
    assert "302" in done["error"] and "redirect" in done["error"]
    assert len(done["attempts"]) == 1 and len(receiver.requests) == 1


def test_a_404_fails_at_once_whatever_retries_are_left(local, receiver):
    receiver.answer((404, {}, b"no such hook", 0.0))
    run = submit(local, target=target(receiver), retry={"max_attempts": 5, "initial_seconds": 0})
    drain()
    done = get(local, run["id"])
    assert done["status"] == "FAILED" and done["attempt"] == 1
    assert len(done["attempts"]) == 1 and "404" in done["error"] and "no such hook" in done["error"]
    assert len(receiver.requests) == 1


def test_a_503_is_retried_per_the_policy(local, receiver):
    receiver.answer((503, {}, b"busy", 0.0))
    run = submit(local, target=target(receiver), retry={"max_attempts": 3, "initial_seconds": 0})
    drain()
    done = get(local, run["id"])
    assert done["status"] == "FAILED" and done["attempt"] == 3
    assert [a["outcome"] for a in done["attempts"]] == ["FAILED"] * 3
    assert [r["headers"]["beatless-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert len({r["headers"]["beatless-run-id"] for r in receiver.requests}) == 1


def test_a_503_then_a_200_succeeds_on_the_second_attempt(local, receiver):
    receiver.answer((503, {}, b"busy", 0.0), (200, {}, b"ok", 0.0))
    run = submit(local, target=target(receiver), retry={"max_attempts": 3, "initial_seconds": 0})
    drain()
    done = get(local, run["id"])
    assert done["status"] == "SUCCEEDED" and done["attempt"] == 2


def test_a_timeout_is_a_retryable_failure(local, receiver):
    receiver.answer((200, {}, b"late", 1.5))
    run = submit(
        local,
        target=target(receiver, timeout_seconds=0.3),
        retry={"max_attempts": 2, "initial_seconds": 0},
    )
    drain()
    done = get(local, run["id"])
    assert done["status"] == "FAILED" and done["attempt"] == 2
    assert "timed out" in done["error"]


def test_custom_success_codes(local, receiver):
    receiver.answer((404, {}, b"", 0.0))
    run = submit(local, target=target(receiver, success_codes=[404, "2xx"]))
    drain()
    assert get(local, run["id"])["status"] == "SUCCEEDED"


def test_a_name_resolving_to_loopback_is_refused_unless_allowed(client, monkeypatch, receiver):
    monkeypatch.setenv("BEATLESS_HTTP_ALLOWED_HOSTS", "localhost")
    monkeypatch.delenv("BEATLESS_ALLOW_PRIVATE_TARGETS", raising=False)
    reset_settings()
    run = submit(
        client,
        target={"type": "http", "url": receiver.url(host="localhost")},
        retry={"max_attempts": 3, "initial_seconds": 0},
    )
    drain()
    done = get(client, run["id"])
    assert done["status"] == "FAILED" and len(done["attempts"]) == 1
    assert "loopback" in done["error"] and receiver.requests == []
    reset_settings()


def test_an_ip_literal_that_is_not_allowed_is_a_400(client, monkeypatch):
    monkeypatch.setenv("BEATLESS_HTTP_ALLOWED_HOSTS", "*")
    monkeypatch.delenv("BEATLESS_ALLOW_PRIVATE_TARGETS", raising=False)
    reset_settings()
    for url in ("http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://[::1]/"):
        response = send(client, "POST", "/v1/tasks", {"target": {"type": "http", "url": url}})
        assert response.status_code == 400, url
        assert response.json_body["error"]["details"]["field"] == "target.url"
    reset_settings()


# -- allow-list and validation --------------------------------------------------------------


def test_a_host_off_the_allow_list_is_a_400_until_an_admin_adds_it(client, receiver, new_key):
    body = {"name": "hook", "target": {"type": "http", "url": "https://hooks.example.com/x"}}
    refused = send(client, "POST", "/v1/jobs", body)
    assert refused.status_code == 400
    assert refused.json_body["error"]["details"]["field"] == "target.url"
    assert "allow-list" in refused.json_body["error"]["message"]
    user = client.as_key(new_key(role="user"))
    assert send(user, "PUT", "/v1/allowed-hosts", {"hosts": ["x.org"]}).status_code == 403
    put = send(client, "PUT", "/v1/allowed-hosts", {"hosts": ["*.Example.com", "a.org"]})
    assert put.status_code == 200 and put.json_body["hosts"] == ["*.example.com", "a.org"]
    assert user.get("/v1/allowed-hosts").json_body["hosts"] == ["*.example.com", "a.org"]
    assert send(client, "POST", "/v1/jobs", {**body, "schedule": "@daily"}).status_code == 201
    bad = send(client, "PUT", "/v1/allowed-hosts", {"hosts": ["http://a.org/x"]})
    assert bad.status_code == 400 and bad.json_body["error"]["details"]["field"] == "hosts.0"


def test_the_tenant_allow_list_is_checked_again_at_call_time(client, receiver):
    send(client, "PUT", "/v1/allowed-hosts", {"hosts": ["localhost"]})
    run = submit(
        client, target={"type": "http", "url": receiver.url(host="localhost")}, delay_seconds=0
    )
    send(client, "PUT", "/v1/allowed-hosts", {"hosts": []})
    drain()
    done = get(client, run["id"])
    assert done["status"] == "FAILED" and "allow-list" in done["error"]
    assert receiver.requests == []


@pytest.fixture
def loopback(client, monkeypatch):
    """Loopback addresses allowed, but no host on the deployment's list: the tenant's decides."""
    monkeypatch.setenv("BEATLESS_ALLOW_PRIVATE_TARGETS", "loopback")
    reset_settings()
    yield client
    monkeypatch.delenv("BEATLESS_ALLOW_PRIVATE_TARGETS")
    reset_settings()


def test_a_delivery_reads_its_tenant_once_for_allow_list_and_secrets(loopback, receiver):
    """The allow-list check and the signature need the same item: one GetItem, not two."""
    import botocore.client

    client = loopback
    send(client, "PUT", "/v1/allowed-hosts", {"hosts": ["localhost"]})
    run = submit(
        client, target={"type": "http", "url": receiver.url(host="localhost")}, delay_seconds=0
    )
    reads: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetItem" and params.get("TableName") == get_settings().tenants_table:
            reads.append(operation)
        return real(self, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
        drain()
    assert get(client, run["id"])["status"] == "SUCCEEDED"
    assert len(reads) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "nope"}, "target.type"),
        ({"type": "http", "url": "ftp://127.0.0.1/x"}, "target.url"),
        ({"type": "http", "url": "file:///etc/passwd"}, "target.url"),
        ({"type": "http"}, "target.url"),
        ({"type": "http", "url": "http://user:pw@127.0.0.1/"}, "target.url"),
        ({"type": "http", "url": "http://127.0.0.1/", "method": "TRACE"}, "target.method"),
        ({"type": "http", "url": "http://127.0.0.1/", "headers": {"Host": "x"}}, "target.headers"),
        (
            {"type": "http", "url": "http://127.0.0.1/", "headers": {"Beatless-Run-Id": "x"}},
            "target.headers",
        ),
        ({"type": "http", "url": "http://127.0.0.1/", "body": "x" * 70_000}, "target.body"),
        (
            {"type": "http", "url": "http://127.0.0.1/", "timeout_seconds": 0},
            "target.timeout_seconds",
        ),
        (
            {"type": "http", "url": "http://127.0.0.1/", "timeout_seconds": 400},
            "target.timeout_seconds",
        ),
        (
            {"type": "http", "url": "http://127.0.0.1/", "success_codes": [700]},
            "target.success_codes",
        ),
        ({"type": "http", "url": "http://127.0.0.1/", "extra": 1}, "target.extra"),
    ],
)
def test_bad_targets_are_400s_naming_the_field(local, fields, field):
    body = {"name": "bad", "schedule": "@daily", "target": fields}
    response = send(local, "POST", "/v1/jobs", body)
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["details"]["field"] == field
    response = send(local, "POST", "/v1/tasks", {"target": fields})
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["details"]["field"] == field


def test_unknown_type_lists_the_known_ones(local):
    response = send(local, "POST", "/v1/tasks", {"target": {"type": "ftp"}})
    assert "http" in response.json_body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "echo", "target": {"type": "http", "url": "http://127.0.0.1/"}}, "target"),
        ({}, "task"),
        ({"target": {"type": "http", "url": "http://127.0.0.1/"}, "args": [1]}, "args"),
        ({"target": "http://127.0.0.1/"}, "target"),
    ],
)
def test_a_job_takes_exactly_one_of_task_or_target(local, body, field):
    response = send(local, "POST", "/v1/jobs", {"name": "j", "schedule": "@daily", **body})
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["details"]["field"] == field
    if body:
        response = send(local, "POST", "/v1/tasks", body)
        assert response.status_code == 400, response.json_body
        assert response.json_body["error"]["details"]["field"] == field


def test_a_step_may_hold_a_target(local, receiver):
    run = submit(
        local,
        steps=[
            {"task": "echo", "args": [1]},
            {"target": target(receiver, body="<beatless.attempt>")},
        ],
    )
    drain()
    done = get(local, run["id"])
    assert done["status"] == "SUCCEEDED" and done["task"] == "echo" and done["target"] is None
    assert (
        done["steps"][1]["target"]["type"] == "http" and done["steps"][1]["result"]["status"] == 200
    )
    assert receiver.requests[0]["body"] == b"1"
    bad = send(local, "POST", "/v1/tasks", {"steps": [{"target": {"type": "http", "url": "x:"}}]})
    assert bad.json_body["error"]["details"]["field"] == "steps.0.target.url"


def test_patch_switches_a_job_between_task_and_target(local, receiver):
    job = create(local, args=[1])
    patched = send(local, "PATCH", f"/v1/jobs/{job['id']}", {"target": target(receiver)})
    assert patched.status_code == 200, patched.json_body
    assert patched.json_body["task"] is None and patched.json_body["args"] == []
    assert patched.json_body["target"]["success_codes"] == ["2xx"]
    put = send(local, "PUT", f"/v1/jobs/{job['id']}", patched.json_body)  # a GET body round-trips
    assert put.status_code == 200, put.json_body
    back = send(local, "PATCH", f"/v1/jobs/{job['id']}", {"task": "echo"})
    assert back.json_body["task"] == "echo" and back.json_body["target"] is None
    triggered = send(local, "PATCH", f"/v1/jobs/{job['id']}", {"target": target(receiver)})
    run = send(local, "POST", f"/v1/jobs/{triggered.json_body['id']}/trigger").json_body
    drain()
    assert get(local, run["id"])["status"] == "SUCCEEDED"
    assert receiver.requests[0]["headers"]["beatless-job-id"] == job["id"]


def test_the_other_faces_show_a_target_backed_job(local, receiver):
    job = create(local, name="hooked", target=target(receiver), task=None)
    run_id = fire(job)["run_id"]
    udata = local.get(f"/api/1/workers/jobs/{job['id']}")
    assert udata.status_code == 200 and udata.json_body["task"] == "target:http"
    assert local.get("/api/1/workers/jobs").status_code == 200
    assert local.get("/webapi/v3/workflows").status_code == 200
    assert local.get(f"/webapi/v3/workflows/{job['id']}/jobs").status_code == 200
    vitam = local.get(f"/vitam/v1/tasks/{run_id}", headers={"X-Tenant-Id": "default"})
    assert vitam.status_code == 200, vitam.json_body
    assert "target:http" in json.dumps(vitam.json_body)


def test_the_checked_address_is_the_one_connected_to(local, receiver, monkeypatch):
    """DNS rebinding: the name resolves once, to an allowed address; a later answer (here a
    private one) is never asked for, and the Host header keeps the name."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    asked = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            asked.append(host)
            return real(next(answers), *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    send(local, "PUT", "/v1/allowed-hosts", {"hosts": ["rebind.test"]})
    run = submit(local, target={"type": "http", "url": receiver.url(host="rebind.test")})
    drain()
    assert get(local, run["id"])["status"] == "SUCCEEDED"
    assert asked == ["rebind.test"]
    assert receiver.requests[0]["headers"]["host"] == f"rebind.test:{receiver.port}"
