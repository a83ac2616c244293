"""Alteryx's real clients, replayed request by request (issue 16).

Each request is the one a real client sends, cited by file and function:

- ``jupiterbak/ayx-node`` (npm SDK): ``src/api/secret-credential-auth.ts`` ``AcquireToken`` (HTTP
  Basic ``client_id:client_secret``, body ``grant_type=client_credentials``), then
  ``src/api/alteryx-base.ts`` ``HttpAction`` (``Authorization: Bearer``, ``Accept: */*``, no
  Content-Type on GET/DELETE, JSON bodies) for ``src/api/sdk/workflow/workflow.ts``
  ``GetWorkflows``, ``GetWorkflow``, ``workflowsGetWorkflowQuestions`` (``/questions?``),
  ``GetJobsForWorkflow`` (``/jobs?sortField=&direction=&offset=&limit=``).
- ``randreag/AYX-MCP-Wrapper`` (generated from the swagger): ``src/server_client/configuration.py``
  ``get_access_token`` (same token request), ``src/tools.py``
  ``execute_workflow_with_monitoring`` (get workflow → questions → enqueue → poll
  ``jobs_get_job_v3`` → ``jobs_get_job_messages``), whose HTTP is ``src/server_client/rest.py``
  ``request``: ``Content-Type: application/json`` on every request, ``{}`` as the DELETE
  body, booleans in the query as Python prints them (``includeMessages=True``).

Answers are parsed with the swagger's models (``tests/faces/alteryx_models.py``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from chalicelib import services
from chalicelib.local.launch import LOCAL_KEY, ROOT
from tests.api.helpers import create
from tests.conftest import drain
from tests.faces import alteryx_models as ayx
from tests.stack import call

NODE_HEADERS = {"Accept": "*/*", "X-Powered-By": "meowz", "User-Agent": "ayx-node (0.1.13)"}
PY_HEADERS = {"Accept": "application/json", "User-Agent": "AYX/MCP/1.0.0"}
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class Wire:
    """Raw HTTP as a client sends it: through ``chalice.test.Client`` or to ``make run``."""

    def __init__(self, client: Any = None, port: int | None = None) -> None:
        self._client, self._port = client, port

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self._client is not None:
            response = self._client.as_key(None).request(method, path, headers=headers, body=body)
            return response.status_code, response.body or b""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self._port}{path}",
            data=body or None,
            method=method,
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def node_token(wire: Wire, client_id: str, secret: str) -> str:
    """ayx-node ``SecretCredentialAuth.AcquireToken``."""
    status, raw = wire.send(
        "POST",
        "/webapi/oauth2/token",
        {**NODE_HEADERS, "Content-Type": FORM, "Authorization": basic(client_id, secret)},
        b"grant_type=client_credentials",
    )
    assert status == 200, raw
    return ayx.TokenResponse.model_validate_json(raw).access_token


def python_token(wire: Wire, client_id: str, secret: str) -> str:
    """AYX-MCP-Wrapper ``Configuration.get_access_token`` (requests, ``data=`` a dict)."""
    status, raw = wire.send(
        "POST",
        "/webapi/oauth2/token",
        {"Content-Type": FORM, "Authorization": basic(client_id, secret)},
        b"grant_type=client_credentials",
    )
    assert status == 200, raw
    return ayx.TokenResponse.model_validate_json(raw).access_token


def node(wire: Wire, token: str, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    """ayx-node ``AlteryxConnectBase.HttpAction``."""
    headers = {**NODE_HEADERS, "Authorization": f"Bearer {token}"}
    if method not in ("GET", "DELETE"):
        headers["Content-Type"] = "application/json"
    data = json.dumps(body).encode() if method not in ("GET", "DELETE") else b""
    return wire.send(method, "/webapi" + path, headers, data)


def python(
    wire: Wire, token: str, method: str, path: str, body: Any = None, query: Any = None
) -> tuple[int, bytes]:
    """AYX-MCP-Wrapper ``RESTClientObject.request``: JSON Content-Type always, ``{}`` as the body
    of a bodiless DELETE, query booleans as ``True``."""
    headers = {**PY_HEADERS, "Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    url = "/webapi" + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = b""
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        data = json.dumps(body).encode() if body is not None else b"{}"
    return wire.send(method, url, headers, data)


def key_id_of(secret: str) -> str:
    return services.keys().authenticate(secret).key_id


# -- the python client, through chalice.test.Client ---------------------------------------------


def test_python_client_runs_a_workflow_with_monitoring(client):
    """``execute_workflow_with_monitoring``: questions answered, run, polled, messages read."""
    workflow = create(client, name="chatty", task="tests.chatty", kwargs={"lines": 1})
    wire = Wire(client)
    token = python_token(wire, key_id_of(client.key), client.key)

    status, raw = python(wire, token, "GET", "/v3/workflows")
    assert status == 200, raw
    assert [w.id for w in ayx.WORKFLOWS.validate_json(raw)] == [workflow["id"]]
    status, raw = python(wire, token, "GET", f"/v3/workflows/{workflow['id']}")
    found = ayx.WorkflowView.model_validate_json(raw)
    assert (status, found.name, found.runCount) == (200, "chatty", 0)
    status, raw = python(wire, token, "GET", f"/v3/workflows/{workflow['id']}/questions")
    questions = ayx.QUESTIONS.validate_json(raw)
    assert [(q.name, q.questionType, q.value) for q in questions] == [
        ("lines", "QuestionNumericUpDown", "1")
    ]

    contract = {"workerTag": found.workerTag, "questions": [{"name": "lines", "value": "2"}]}
    status, raw = python(wire, token, "POST", f"/v3/workflows/{workflow['id']}/jobs", contract)
    job = ayx.JobView.model_validate_json(raw)
    assert (status, job.status, job.appId) == (200, "Queued", workflow["id"])
    drain()
    status, raw = python(wire, token, "GET", f"/v3/jobs/{job.id}", query={"includeMessages": True})
    details = ayx.JobView.model_validate_json(raw)
    assert (details.status, details.disposition) == ("Completed", "Success")
    assert [m.text for m in details.messages or []] == ["line 0", "line 1"]  # lines=2 arrived
    status, raw = python(wire, token, "GET", f"/v3/jobs/{job.id}/messages")
    assert status == 200
    assert [m.text for m in ayx.MESSAGES.validate_json(raw)] == ["line 0", "line 1"]


def test_node_client_lists_and_pages_a_workflows_jobs(client):
    """``GetJobsForWorkflow(id, sortField, direction, offset, limit)``: ``createDate`` items."""
    workflow = create(client, name="pager", task="echo")
    wire = Wire(client)
    token = node_token(wire, key_id_of(client.key), client.key)
    ids = []
    for _ in range(3):
        status, raw = node(wire, token, "POST", f"/v3/workflows/{workflow['id']}/jobs", {})
        ids.append(ayx.JobView.model_validate_json(raw).id)
    status, raw = node(wire, token, "GET", f"/v3/workflows/{workflow['id']}/jobs?")
    listed = ayx.WORKFLOW_JOBS.validate_json(raw)
    assert [j.id for j in listed] == ids[::-1]
    assert all(j.createDate and j.status == "Queued" for j in listed)
    query = "sortField=createDate&direction=asc&offset=1&limit=1"
    status, raw = node(wire, token, "GET", f"/v3/workflows/{workflow['id']}/jobs?{query}")
    assert [j.id for j in ayx.WORKFLOW_JOBS.validate_json(raw)] == [ids[1]]
    status, raw = node(wire, token, "GET", f"/v3/workflows/{workflow['id']}/jobs?limit=x")
    assert status == 400 and "limit" in ayx.Message.model_validate_json(raw).message


# -- both clients against `make run` -------------------------------------------------------------


def _admin_key_id(port: int) -> str:
    status, keys = call(port, "GET", "/v1/keys")
    assert status == 200, keys
    return keys["items"][0]["id"]


def _poll(wire: Wire, token: str, job_id: str, until: set[str]) -> ayx.JobView:
    deadline = time.monotonic() + 20
    while True:
        status, raw = python(wire, token, "GET", f"/v3/jobs/{job_id}", query={"includeMessages": 1})
        assert status == 200, raw
        job = ayx.JobView.model_validate_json(raw)
        if job.status in until:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_real_clients_replayed_through_make_run(stack):
    """login → list workflows → questions → run → poll → messages → cancel → delete, as the
    two clients send them, against ``make run``."""
    _, port, _ = stack
    wire = Wire(port=port)
    status, sleeper = call(
        port, "POST", "/v1/jobs", {"name": "nap", "task": "sleep", "schedule": "0 0 1 1 *"}
    )
    assert status == 201, sleeper
    status, failing = call(
        port, "POST", "/v1/jobs", {"name": "boom", "task": "fail", "schedule": "0 0 1 1 *"}
    )
    assert status == 201, failing
    key_id = _admin_key_id(port)

    # login, both ways RFC 6749 allows: HTTP Basic (both clients) and the form's fields
    node_bearer = node_token(wire, key_id, LOCAL_KEY)
    status, raw = wire.send(
        "POST",
        "/webapi/oauth2/token",
        {"Content-Type": FORM},
        urllib.parse.urlencode(
            {"grant_type": "client_credentials", "client_id": key_id, "client_secret": LOCAL_KEY}
        ).encode(),
    )
    assert status == 200, raw
    bearer = ayx.TokenResponse.model_validate_json(raw).access_token
    assert bearer != LOCAL_KEY and LOCAL_KEY not in bearer

    # list workflows and read one (ayx-node GetWorkflows, GetWorkflow)
    status, raw = node(wire, node_bearer, "GET", "/v3/workflows?")
    assert {w.name for w in ayx.WORKFLOWS.validate_json(raw)} == {"nap", "boom"}
    status, raw = node(wire, node_bearer, "GET", f"/v3/workflows/{sleeper['id']}")
    workflow = ayx.WorkflowView.model_validate_json(raw)

    # questions (workflowsGetWorkflowQuestions): the task's parameters
    status, raw = node(wire, node_bearer, "GET", f"/v3/workflows/{sleeper['id']}/questions?")
    questions = ayx.QUESTIONS.validate_json(raw)
    assert [(q.name, q.value) for q in questions] == [("seconds", "1.0")]

    # run with the answer, poll, read the messages (execute_workflow_with_monitoring)
    contract = {"workerTag": workflow.workerTag, "questions": [{"name": "seconds", "value": "0"}]}
    status, raw = python(wire, bearer, "POST", f"/v3/workflows/{sleeper['id']}/jobs", contract)
    assert status == 200, raw
    job = ayx.JobView.model_validate_json(raw)
    done = _poll(wire, bearer, job.id, {"Completed", "Cancelled"})
    assert (done.disposition, done.priority) == ("Success", "Default")
    status, raw = python(wire, bearer, "GET", f"/v3/jobs/{job.id}/messages")
    assert status == 200
    ayx.MESSAGES.validate_json(raw)

    # a failing workflow: its messages carry the error
    status, raw = python(wire, bearer, "POST", f"/v3/workflows/{failing['id']}/jobs", {})
    failed = _poll(wire, bearer, ayx.JobView.model_validate_json(raw).id, {"Completed"})
    assert failed.disposition == "Error"
    assert any("failed on purpose" in (m.text or "") for m in failed.messages or [])

    # cancel a running job (Critical stays Critical), then it reads Cancelled
    contract = {"priority": "Critical", "questions": [{"name": "seconds", "value": "30"}]}
    status, raw = python(wire, bearer, "POST", f"/v3/workflows/{sleeper['id']}/jobs", contract)
    long = ayx.JobView.model_validate_json(raw)
    assert long.priority == "Critical"
    _poll(wire, bearer, long.id, {"Running"})
    status, raw = python(wire, bearer, "DELETE", f"/v3/jobs/{long.id}")
    assert (status, json.loads(raw)) == (200, {"message": "Cancelled Successfully."})
    cancelled = _poll(wire, bearer, long.id, {"Cancelled"})
    assert (cancelled.disposition, cancelled.priority) == ("Cancelled", "Critical")

    # delete: a job no longer queued or running is a 400 in Alteryx's words
    status, raw = node(wire, node_bearer, "DELETE", f"/v3/jobs/{job.id}")
    assert (status, json.loads(raw)) == (
        400,
        {"message": "This job is not in 'Queued' or 'Running' state."},
    )

    # the job listing, and the workflow's jobs newest first
    status, raw = python(wire, bearer, "GET", "/v3/jobs")
    paged = ayx.PagedJobs.model_validate_json(raw)
    assert {j.jobId for j in paged.data or []} >= {job.id, long.id}
    status, raw = node(wire, node_bearer, "GET", f"/v3/workflows/{sleeper['id']}/jobs?")
    assert [j.id for j in ayx.WORKFLOW_JOBS.validate_json(raw)] == [long.id, job.id]

    # a revoked key's tokens die with it
    status, _ = call(port, "DELETE", f"/v1/keys/{key_id}")
    assert status == 204
    time.sleep(0.1)
    status, raw = node(wire, node_bearer, "GET", "/v3/workflows?")
    assert status == 401


@pytest.mark.parametrize("flag", ["true", "True", "1", ""])
def test_include_messages_takes_what_generated_clients_send(client, flag):
    workflow = create(client, task="tests.chatty", kwargs={"lines": 1})
    wire = Wire(client)
    token = python_token(wire, key_id_of(client.key), client.key)
    status, raw = python(wire, token, "POST", f"/v3/workflows/{workflow['id']}/jobs", {})
    job = ayx.JobView.model_validate_json(raw)
    suffix = "?includeMessages" if flag == "" else f"?includeMessages={flag}"
    status, raw = python(wire, token, "GET", f"/v3/jobs/{job.id}{suffix}")
    assert status == 200, raw
    assert ayx.JobView.model_validate_json(raw).messages == []
    for off in ("false", "False", "0"):
        status, raw = python(wire, token, "GET", f"/v3/jobs/{job.id}?includeMessages={off}")
        assert ayx.JobView.model_validate_json(raw).messages is None


@pytest.mark.skipif(shutil.which("curl") is None, reason="the docs use curl")
def test_docs_login_flow_runs_as_pasted(stack):
    """docs/alteryx.md's curl block, against ``make run``."""
    _, port, _ = stack
    text = (ROOT / "docs" / "alteryx.md").read_text()
    script = "\n".join(re.findall(r"```sh\n(.*?)```", text, flags=re.S)[:1])
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        env={**os.environ, "BEATLESS_API_KEY": LOCAL_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert '"questionType": "QuestionNumericUpDown"' in done.stdout.replace('":"', '": "')
    assert '"priority": "Critical"' in done.stdout.replace('":"', '": "')
