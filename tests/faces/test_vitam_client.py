"""Vitam's own worker client against the Vitam face (issue 16).

Each request is the one ProgrammeVitam/vitam's client sends, cited by file and method; each
answer is parsed with models mirroring the Java classes that client parses it with. Cases of
``WorkerResourceTest`` (sources/worker/worker-server/src/test/java/fr/gouv/vitam/worker/server/
rest/WorkerResourceTest.java) are ported, each naming its test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from chalicelib.local.launch import ROOT
from tests.api.helpers import send
from tests.conftest import drain

WORKER = "/worker/v1"  # WorkerClientFactory.RESOURCE_PATH

# -- the Java classes the client parses answers with, mirrored strictly ----------------------

StatusCode = Literal["UNKNOWN", "STARTED", "ALREADY_EXECUTED", "OK", "WARNING", "KO", "FATAL"]
ProcessState = Literal["PAUSE", "RUNNING", "COMPLETED"]


class ItemStatus(BaseModel):
    """fr.gouv.vitam.common.model.ItemStatus (common-public): WorkerClientRest
    .handleCommonResponseStatus reads a 200 with ``response.readEntity(ItemStatus.class)``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    itemId: StrictStr
    message: StrictStr | None
    globalStatus: StatusCode
    statusMeter: list[StrictInt] = Field(min_length=7, max_length=7)  # UNKNOWN..FATAL
    data: dict[str, Any]
    itemsStatus: dict[str, ItemStatus]
    subTaskStatus: dict[str, ItemStatus]
    globalState: ProcessState | None
    globalOutcomeDetailSubcode: StrictStr | None
    lifecycleEnable: StrictBool


class VitamError(BaseModel):
    """fr.gouv.vitam.common.error.VitamError (+ RequestResponse's ``httpCode``): what
    RequestResponse.parseFromResponse builds from a body containing "httpCode"."""

    model_config = ConfigDict(extra="ignore", strict=True)  # FAIL_ON_UNKNOWN_PROPERTIES false
    httpCode: StrictInt
    code: StrictStr
    context: StrictStr
    state: StrictStr
    message: StrictStr
    description: StrictStr
    errors: list[VitamError] | None = None


class WorkerAccessRequest(BaseModel):
    """fr.gouv.vitam.worker.common... WorkerAccessRequest: WorkerClientRest.extractException
    reads a 461 as a list of these and refuses an empty ``accessRequestId``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    accessRequestId: StrictStr = Field(min_length=1)
    strategyId: StrictStr
    offerId: StrictStr | None


def description_step(*actions: tuple[str, str], name: str = "Contrôle global entrée (SIP)"):
    """sources/worker/worker-server/src/test/resources/descriptionStep.json, with its
    ``actionKey``s replaced by beatless tasks (Vitam's handlers are not beatless tasks)."""
    return {
        "step": {
            "workerGroupId": "DefaultWorker",
            "stepName": name,
            "behavior": "BLOCKING",
            "distribution": {"kind": "REF", "element": "SIP/manifest.xml"},
            "actions": [{"action": {"actionKey": k, "behavior": b}} for k, b in actions],
        },
        "workParams": {
            "containerName": "obj",
            "objectName": "obj",
            "urlWorkspace": "http://localhost:8888",
            "urlMetadata": "http://localhost:8889",
            "processId": "processId",
            "currentStep": name,
        },
    }


#: descriptionStep_wrong_handler.json, verbatim: Vitam's handler names, none a beatless task.
WRONG_HANDLER = description_step(
    ("checkSeda", "BLOCKING"),
    ("CheckVersionWrong", "BLOCKING"),
    ("CheckObjectsNumber", "NOBLOCKING"),
    ("ExtractSeda", "BLOCKING"),
    ("CheckConformity", "BLOCKING"),
)


def assert_vitam_headers(headers: Any) -> None:
    """StandardTraits.raml (doc/fr/rest/interne/libraries): X-Request-Id and FullApiVersion on
    every answer."""
    assert headers["X-Request-Id"] and headers["FullApiVersion"]


def vitam_error(response: Any, status: int) -> VitamError:
    assert response.status_code == status, response.body
    assert_vitam_headers(response.headers)
    error = VitamError.model_validate(response.json_body)
    assert error.httpCode == status
    return error


# -- through chalice.test.Client ------------------------------------------------------------


@pytest.fixture
def worker(client, new_key):
    """Calls as WorkerClientRest makes them (DefaultClient + HeaderIdClientFilter): JSON, the
    session's X-Request-Id, X-Tenant-Id and X-Application-Id; the beatless key in X-Vitam-Key."""
    key = new_key(tenant="0", role="admin", owner="vitam-processing")
    http = client.as_key(None)

    def call(method: str, path: str, body: Any = None, **headers: str) -> Any:
        sent = {
            "X-Vitam-Key": key,
            "X-Request-Id": "aeaqaaaaaahgausqab7boak55nw5vqaaaaaq",
            "X-Tenant-Id": "0",
            "X-Application-Id": "SESSION-ID-00001",
            **headers,
        }
        return send(http, method, f"{WORKER}{path}", body, **sent)

    return call


@pytest.fixture
def draining() -> Iterator[None]:
    """A worker delivering runs while a request waits for them, as Lambda would."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            drain(rounds=1)
            time.sleep(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def bound(monkeypatch):
    """``BEATLESS_VITAM_WAIT_SECONDS`` for this test."""

    def set_bound(seconds: float) -> None:
        monkeypatch.setenv("BEATLESS_VITAM_WAIT_SECONDS", str(seconds))

    return set_bound


def test_get_status_is_204(client):
    """WorkerResourceTest.testGetStatus: GET /worker/v1/status → 204 (BasicClient.checkStatus)."""
    response = client.as_key(None).get(f"{WORKER}/status")
    assert response.status_code == 204
    assert response.body == b""  # schemathesis: a "null" body broke the next keep-alive answer
    assert_vitam_headers(response.headers)


def test_submit_step_ok_answers_the_steps_item_status(worker, draining):
    """WorkerResourceTest.testSubmitStepOK; the request of WorkerClientRest.submitStep
    (POST /tasks, the DescriptionStep as JSON) and its parsing of a 200."""
    body = description_step(("echo", "BLOCKING"), ("sleep", "NOBLOCKING"))
    response = worker("POST", "/tasks", body)
    assert response.status_code == 200, response.body
    assert_vitam_headers(response.headers)
    assert response.headers["X-Request-Id"] == "aeaqaaaaaahgausqab7boak55nw5vqaaaaaq"
    status = ItemStatus.model_validate(response.json_body)
    assert (status.itemId, status.globalStatus, status.globalState) == (
        "Contrôle global entrée (SIP)",
        "OK",
        "COMPLETED",
    )
    assert list(status.itemsStatus) == ["echo", "sleep"]
    assert status.statusMeter == [0, 0, 0, 2, 0, 0, 0]
    assert all(item.globalStatus == "OK" for item in status.itemsStatus.values())
    assert status.data["taskId"]


def test_a_failed_action_is_a_ko_item_status_and_stops_the_step(worker, draining):
    response = worker(
        "POST", "/tasks", description_step(("fail", "BLOCKING"), ("echo", "BLOCKING"))
    )
    status = ItemStatus.model_validate(response.json_body)
    assert response.status_code == 200
    assert status.globalStatus == "KO"
    assert list(status.itemsStatus) == ["fail"]  # as WorkerImpl.run breaks after a blocking KO
    assert status.itemsStatus["fail"].data["exc"] == "TaskFailed"
    assert status.statusMeter[5] == 1


def test_submit_empty_step_is_a_400(worker):
    """WorkerResourceTest.testSubmitEmptyStepThenBadRequest."""
    vitam_error(worker("POST", "/tasks", ""), 400)


def test_submit_incorrect_step_is_a_400(worker):
    """WorkerResourceTest.testSubmitIncorrectStepThenBadRequest: Vitam answers 500 (RESTEasy
    fails to read the body); beatless answers 400 naming the body (docs/vitam.md)."""
    error = vitam_error(worker("POST", "/tasks", "body_test"), 400)
    assert "body" in error.message


def test_submit_step_wrong_handler_is_a_400_naming_it(worker):
    """WorkerResourceTest.testSubmitStepWrongHandler, with descriptionStep_wrong_handler.json."""
    error = vitam_error(worker("POST", "/tasks", WRONG_HANDLER), 400)
    assert error.context == "WORKER"
    assert "step.actions.0.action.actionKey" in error.message
    assert "'checkSeda' is not a registered task" in error.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"step": {"stepName": "s", "actions": []}, "workParams": {}}, "step.actions"),
        ({"step": {"stepName": "s", "actions": [{"action": {}}]}, "workParams": {}}, "actionKey"),
        ({"workParams": {}}, "step"),
        ({"step": {"stepName": "s", "actions": [{"action": {"actionKey": "echo"}}]}}, "workParams"),
        (description_step(("echo", "SOMETIMES")), "behavior"),
    ],
)
def test_a_bad_description_step_is_a_400_naming_the_field(worker, body, field):
    error = vitam_error(worker("POST", "/tasks", body), 400)
    assert field in error.message


def test_past_the_bound_the_answer_is_retry_later_naming_the_task(worker, bound):
    """WorkerResourceTest.testSubmitStepAsyncDataUnavailableOK's status (461) and body
    (WorkerAccessRequest list), as WorkerClientRest.extractException reads them; then the
    task is polled and cancelled by its id."""
    bound(0.3)
    response = worker("POST", "/tasks", description_step(("sleep", "BLOCKING")))
    assert response.status_code == 461, response.body
    assert_vitam_headers(response.headers)
    (request,) = [WorkerAccessRequest.model_validate(r) for r in response.json_body]
    polled = worker("GET", f"/tasks/{request.accessRequestId}")
    assert polled.status_code == 200 and polled.json_body["state"] == "pending"
    assert polled.json_body["result_link"] == f"{WORKER}/tasks/{request.accessRequestId}"
    assert response.headers["Location"] == polled.json_body["result_link"]
    cancelled = worker("PUT", f"/tasks/{request.accessRequestId}")
    assert cancelled.status_code == 200 and cancelled.json_body["task_status"] == "cancelled"


def test_the_seed_body_keeps_working_at_the_worker_path(worker):
    body = {"Step": "ingest", "actions": [{"action": "echo", "arguments": {"file": "a.pdf"}}]}
    response = worker("POST", "/tasks", body)
    assert response.status_code == 201
    assert_vitam_headers(response.headers)
    assert response.json_body["result_link"].startswith(f"{WORKER}/tasks/")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_unsupported_methods_answer_in_vitams_error_shape(worker, client, method):
    """GenericExceptionMapper: NotAllowedException → 405 as a VitamError."""
    vitam_error(worker(method, "/tasks"), 405)
    vitam_error(worker(method, "/tasks/01m00000000000000000000000"), 405)
    vitam_error(worker(method, "/status"), 405)
    # RFC 9110 §15.5.6: a 405 names the methods the resource serves (schemathesis ST204).
    assert worker(method, "/tasks").headers["Allow"] == "GET, POST, PUT"
    assert worker(method, "/tasks/01m00000000000000000000000").headers["Allow"] == "GET, PUT"
    assert worker(method, "/status").headers["Allow"] == "GET"
    anonymous = client.as_key(None).request(method, f"{WORKER}/tasks", headers={})
    vitam_error(anonymous, 401)


def test_every_error_is_a_vitam_error_with_the_headers(worker, client):
    vitam_error(worker("GET", "/tasks/01m00000000000000000000000"), 404)
    vitam_error(worker("GET", "/tasks", **{"X-Tenant-Id": "1"}), 401)
    no_tenant = client.as_key(None).get(f"{WORKER}/tasks")
    vitam_error(no_tenant, 401)


def test_method_override_get_and_delete_as_vitams_filter(worker):
    """HttpMethodOverrideFilter (access-external-rest): X-Http-Method-Override GET or DELETE,
    any case, replaces the method; VitamHttpHeader.METHOD_OVERRIDE accepts get|put|delete."""
    task = worker("POST", "/tasks", {"Step": "s", "actions": [{"action": "echo"}]}).json_body
    got = worker("POST", f"/tasks/{task['id']}", **{"X-Http-Method-Override": "get"})
    assert got.status_code == 200 and got.json_body["id"] == task["id"]
    listed = worker("POST", "/tasks", {"query": "name='s'"}, **{"X-Http-Method-Override": "GET"})
    assert listed.status_code == 200 and listed.json_body["results"] == [task["id"]]
    vitam_error(worker("PUT", "/tasks", **{"X-Http-Method-Override": "DELETE"}), 405)
    error = vitam_error(worker("POST", "/tasks", {}, **{"X-Http-Method-Override": "PATCH"}), 400)
    assert "X-Http-Method-Override" in error.message
    put = worker("PUT", f"/tasks/{task['id']}", **{"X-Http-Method-Override": "put"})
    assert put.status_code == 200  # PUT is a valid value that changes nothing


def test_the_seed_path_answers_the_same_headers_and_error_shape(client, new_key):
    key = new_key(tenant="0", role="admin")
    response = send(client.as_key(None), "PATCH", "/vitam/v1/tasks", None, **{"X-Vitam-Key": key})
    vitam_error(response, 405)
    fine = send(client.as_key(None), "GET", "/vitam/v1/tasks", None, **{"X-Vitam-Key": key})
    assert fine.status_code == 412  # no X-Tenant-Id
    ok = send(
        client.as_key(None),
        "GET",
        "/vitam/v1/tasks",
        None,
        **{"X-Vitam-Key": key, "X-Tenant-Id": "0"},
    )
    assert ok.status_code == 200
    assert_vitam_headers(ok.headers)


# -- through make run ----------------------------------------------------------------------


def _http(port: int, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=40) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def _docs_blocks() -> str:
    text = (ROOT / "docs" / "vitam.md").read_text()
    return "\n".join(re.findall(r"```sh\n(.*?)```", text, flags=re.S))


@pytest.mark.skipif(shutil.which("curl") is None, reason="docs/vitam.md uses curl")
def test_the_real_client_flow_under_make_run(stack, tmp_path: Path):
    """docs/vitam.md's shell blocks as pasted (a key for tenant 0, then WorkerClientRest's
    POST), then the client's sequence: submit → 200 ItemStatus; a long step → 461 → poll →
    cancel; the seed's body → 201 → poll → cancel."""
    _, port, moto_port = stack
    script = _docs_blocks().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        env={**os.environ, "MOTO_PORT": str(moto_port)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    real, seed = (json.loads(line) for line in done.stdout.splitlines() if line.strip())
    assert ItemStatus.model_validate(real).globalStatus == "OK"
    assert seed["state"] == "pending"
    made = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--local", "keys", "create", "--tenant", "0"],
        cwd=ROOT,
        env={**os.environ, "MOTO_PORT": str(moto_port)},
        capture_output=True,
        text=True,
        check=True,
    )
    headers = {"X-Vitam-Key": made.stdout.strip(), "X-Tenant-Id": "0", "X-Request-Id": "req-1"}

    # WorkerClientRest.submitStep: POST /tasks, a 200 read as ItemStatus.
    step = description_step(("echo", "BLOCKING"), ("fail", "BLOCKING"), ("echo", "BLOCKING"))
    code, answered, body = _http(port, "POST", f"{WORKER}/tasks", step, headers)
    assert code == 200 and answered["FullApiVersion"] and answered["X-Request-Id"] == "req-1"
    status = ItemStatus.model_validate(body)
    assert status.globalStatus == "KO" and list(status.itemsStatus) == ["echo", "fail"]

    # The seed's body: submit → poll → cancel while running.
    seed_body = {"Step": "long", "actions": [{"action": "sleep", "arguments": {"seconds": 30}}]}
    code, _, task = _http(port, "POST", f"{WORKER}/tasks", seed_body, headers)
    assert code == 201
    deadline = time.monotonic() + 10
    while (
        _http(port, "GET", f"{WORKER}/tasks/{task['id']}", None, headers)[2]["state"] != "running"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    code, answered, _ = _http(port, "PUT", f"{WORKER}/tasks/{task['id']}", None, headers)
    assert code == 200 and answered["FullApiVersion"]
    deadline = time.monotonic() + 10
    while _http(port, "GET", f"{WORKER}/tasks/{task['id']}", None, headers)[2]["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.2)

    # Vitam's body, then its task by data.taskId: poll (done, ko) → cancel (409, already done).
    # (Past the bound, 461, is replayed through chalice.test.Client: make run's bound is 20 s.)
    run_id = status.data["taskId"]
    code, _, polled = _http(port, "GET", f"{WORKER}/tasks/{run_id}", None, headers)
    assert code == 200 and polled["task_status"] == "ko"
    code, _, error = _http(port, "PUT", f"{WORKER}/tasks/{run_id}", None, headers)
    assert VitamError.model_validate(error).httpCode == 409 == code
    code, _, error = _http(port, "PATCH", f"{WORKER}/tasks/{task['id']}", None, headers)
    assert VitamError.model_validate(error).httpCode == 405 == code
