"""Security walks over every registered route of every face: no key, a foreign tenant's admin
key, oversized bodies, hostile ids; and SSRF through the Dapr delivery endpoint."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import app  # noqa: F401  (registers every face's routes)
from chalicelib import services
from chalicelib.api.models import ErrorOut
from chalicelib.api.routing import ROUTES, RouteDoc
from chalicelib.settings import reset_settings
from tests.conftest import drain

PARAM = re.compile(r"{(\w+)}")
HOSTILE = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f",
    "' OR '1'='1",
    '"; DROP TABLE jobs; --',
    "<script>alert(1)</script>",
    "${jndi:ldap://169.254.169.254/a}",
    "{{7*7}}",
    "tenant#other",
    "\u0000\u0001",
    "\U0001d518\u00e9\u4e2d\u0627",
    "a" * 5000,
    "01" + "z" * 24,
]


def _path(doc: RouteDoc, value: str) -> str:
    return PARAM.sub(lambda _: urllib.parse.quote(value, safe=""), doc.path)


def _headers(doc: RouteDoc, key: str | None, tenant: str = "default") -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if doc.face == "vitam":
        headers["X-Tenant-Id"] = tenant
    return headers


def _call(client: Any, doc: RouteDoc, path: str, headers: dict[str, str], body: bytes = b"") -> Any:
    return client.request(doc.method, path, headers=headers, body=body)


PROTECTED = [doc for doc in ROUTES if doc.access != "public"]


def _ids(doc: RouteDoc) -> str:
    return f"{doc.method} {doc.path}"


@pytest.mark.parametrize("doc", PROTECTED, ids=_ids)
def test_every_route_without_a_key_is_a_401_in_its_faces_shape(client, doc):
    answer = _call(client.as_key(None), doc, _path(doc, "01" + "a" * 24), _headers(doc, None))
    assert answer.status_code == 401, answer.body
    assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
    (doc.error_model or ErrorOut).model_validate(json.loads(answer.body))


@pytest.fixture
def tenant_data(client: Any) -> dict[str, Any]:
    """One of everything in tenant ``default``: a job, a run, a Dapr job, a Vitam task, a key."""
    job = client.post(
        "/v1/jobs", body=json.dumps({"name": "secret-job", "task": "echo", "schedule": "@daily"})
    ).json_body
    run = client.post("/v1/jobs/" + job["id"] + "/trigger").json_body
    drain()
    dapr = client.post("/v1.0/jobs/secret-dapr", body=json.dumps({"schedule": "@daily"}))
    assert dapr.status_code == 204
    vitam = client.post(
        "/vitam/v1/tasks",
        headers={"X-Tenant-Id": "default"},
        body=json.dumps({"Step": "secret-step", "actions": [{"action": "echo"}]}),
    )
    assert vitam.status_code == 201, vitam.body
    key = services.keys().create("default", "user", "secret-owner")
    return {
        "ids": [job["id"], run["id"], key.item.key_id, vitam.json_body["id"]],
        "names": ["secret-job", "secret-dapr", "secret-step", "secret-owner"],
        "job": job,
        "run": run,
    }


def test_a_foreign_tenants_admin_key_reaches_nothing_on_any_face(client, tenant_data):
    intruder = services.keys().create("other", "admin", "intruder").key
    secrets = tenant_data["ids"] + tenant_data["names"]
    answers = {}
    for doc in PROTECTED:
        params = PARAM.findall(doc.path)
        values = [tenant_data["job"]["id"], tenant_data["run"]["id"], "secret-dapr"]
        for value in values if params else [""]:
            path = _path(doc, value)
            answer = _call(client.as_key(None), doc, path, _headers(doc, intruder, "other"), b"{}")
            answers[f"{doc.method} {path}"] = answer.status_code
            assert answer.status_code < 500, (doc.path, answer.body)
            text = answer.body.decode(errors="replace")
            leaked = [s for s in secrets if s in text and s != value]  # an echo is no leak
            assert not leaked, (doc.method, path, answer.status_code, leaked)
            if params and doc.method in ("GET", "PUT", "PATCH"):
                assert answer.status_code in (400, 404), (doc.method, path, answer.body)
    # and nothing of tenant default was changed by the walk
    job = client.get(f"/v1/jobs/{tenant_data['job']['id']}").json_body
    assert (job["version"], job["enabled"]) == (tenant_data["job"]["version"], True)
    assert client.get("/v1.0/jobs/secret-dapr").status_code == 200
    assert client.get(f"/v1/tasks/{tenant_data['run']['id']}").json_body["status"] == "SUCCEEDED"
    assert len(answers) > 60


@pytest.mark.parametrize("doc", [d for d in PROTECTED if d.request is not None], ids=_ids)
def test_oversized_bodies_are_413_on_every_route_that_takes_one(client, doc):
    body = json.dumps({"description": "x" * (300 * 1024)}).encode()
    answer = _call(client, doc, _path(doc, "01" + "a" * 24), _headers(doc, client.key), body)
    assert answer.status_code == 413, answer.body


@pytest.mark.parametrize("doc", [d for d in PROTECTED if PARAM.search(d.path)], ids=_ids)
def test_hostile_ids_are_client_errors_never_5xx(client, doc):
    for value in HOSTILE:
        answer = _call(client, doc, _path(doc, value), _headers(doc, client.key), b"{}")
        assert 400 <= answer.status_code < 500 or answer.status_code == 204, (
            value[:40],
            answer.status_code,
            answer.body[:300],
        )
        assert b"Traceback" not in answer.body


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []
    redirect_to = ""

    def do_POST(self) -> None:
        _Recorder.hits.append(f"{self.server.server_address[1]}{self.path}")  # type: ignore[attr-defined]
        if self.redirect_to and "victim" not in self.path:
            self.send_response(307)
            self.send_header("Location", self.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def two_servers() -> Iterator[tuple[int, int]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.hits, _Recorder.redirect_to = [], ""
    yield servers[0].server_address[1], servers[1].server_address[1]
    for server in servers:
        server.shutdown()


def _deliver(client: Any, name: str) -> dict[str, Any]:
    send = client.post(
        f"/v1.0/jobs/{urllib.parse.quote(name, safe='')}",
        body=json.dumps({"dueTime": "2h", "data": {"x": 1}, "failurePolicy": {"drop": {}}}),
    )
    assert send.status_code == 204, send.body
    items = client.get("/v1/jobs?limit=100").json_body["items"]
    job = next(j for j in items if j["name"] == name)
    run = client.post(f"/v1/jobs/{job['id']}/trigger").json_body
    drain()
    return client.get(f"/v1/tasks/{run['id']}").json_body


def test_ssrf_through_the_dapr_endpoint_is_refused(client, two_servers, monkeypatch):
    app_port, victim_port = two_servers
    endpoints = {"default": f"http://127.0.0.1:{app_port}"}
    monkeypatch.setenv("BEATLESS_DAPR_APP_ENDPOINTS", json.dumps(endpoints))
    monkeypatch.setenv("BEATLESS_DAPR_ALLOWED_HOSTS", "127.0.0.1")
    reset_settings()
    try:
        # a redirect from the allow-listed app to somewhere else is not followed
        _Recorder.redirect_to = f"http://127.0.0.1:{victim_port}/victim"
        run = _deliver(client, "bounce")
        assert run["status"] == "FAILED" and "307" in (run["error"] or ""), run
        assert _Recorder.hits == [f"{app_port}/job/bounce"]
        # a name cannot climb out of /job/: / ? # are refused, and what is left is one
        # encoded path segment (here a literal "%2F" stays "%252F")
        _Recorder.redirect_to, _Recorder.hits = "", []
        refused = client.post("/v1.0/jobs/..%2F..%2Fadmin", body=b'{"dueTime": "2h"}')
        assert refused.status_code == 400, refused.body
        run = _deliver(client, "..%2F..%2Fadmin")
        assert run["status"] == "SUCCEEDED", run
        assert _Recorder.hits == [f"{app_port}/job/..%252F..%252Fadmin"]
        # an endpoint off the allow-list (the metadata service) is never called
        monkeypatch.setenv(
            "BEATLESS_DAPR_APP_ENDPOINTS", json.dumps({"default": "http://169.254.169.254"})
        )
        reset_settings()
        run = _deliver(client, "metadata")
        assert (run["status"], run["exc"]) == ("FAILED", "DeliveryRefused")
    finally:
        reset_settings()
