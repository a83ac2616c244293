"""Dapr's own HTTP integration tests of the jobs API, ported: the same requests, the same
assertions (upstream: ``dapr/dapr``, ``tests/integration/suite/daprd/jobs/``).

Upstream schedules the failure-policy cases over gRPC to a gRPC app; here the same jobs are
scheduled over HTTP and delivered to an HTTP app that answers 500 where upstream's app returns an
error. Where beatless deliberately differs, the test asserts beatless's answer and
``docs/dapr.md`` ("Upstream tests") says why.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib.settings import reset_settings
from tests.api.helpers import send
from tests.conftest import drain
from tests.faces.test_dapr import dapr_app  # noqa: F401  (a fixture)

ERR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


def assert_dapr_error(response: Any, status: int, code: str, message: str | None = None) -> None:
    """What upstream's errors.go checks: JSON, the status, ``errorCode``, ``message`` and one
    ErrorInfo in ``details`` whose reason is the code."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    assert headers["content-type"] == "application/json"
    assert response.status_code == status, response.json_body
    data = json.loads(response.body)
    assert data["errorCode"] == code
    if message is not None:
        assert data["message"] == message
    (detail,) = data["details"]
    assert detail["domain"] == "dapr.io"
    assert detail["reason"] == code
    assert detail["@type"] == ERR_INFO_TYPE


def drain_for(seconds: float) -> None:
    """Drain the work queues for a while: retries come back after their interval."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        drain()
        time.sleep(0.1)


def deliveries(app: Any, count: int, within: float = 10.0, then_quiet: float = 2.0) -> int:
    """Upstream's ``EventuallyWithT`` then "no more triggers": drain until the app has had
    ``count`` calls (at most ``within`` seconds), then for ``then_quiet`` seconds more."""
    deadline = time.monotonic() + within
    while len(app.received) < count and time.monotonic() < deadline:
        drain()
        time.sleep(0.1)
    drain_for(then_quiet)
    return len(app.received)


# --- http/basic.go -------------------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/basic.go: basic, "bad json"
@pytest.mark.parametrize(
    "body", ["", "{}", "[{}]", '{"name": "test"}', '{"schedule": "test", "repeats": -1}']
)
def test_basic_bad_json(client, body):
    response = send(client, "POST", "/v1.0/jobs/test", body)
    assert response.status_code == 400


# tests/integration/suite/daprd/jobs/http/basic.go: basic, "good json"
@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("test1", '{"schedule": "@daily"}'),
        ("test2", '{"schedule": "@daily", "repeats": 3, "due_time": "10s", "ttl": "11s"}'),
        (
            "test3",
            '{"schedule": "@daily", "repeats": 3, "due_time": "10s", "ttl": "11s", "data": '
            '"{\\"@type\\": \\"type.googleapis.com/google.protobuf.StringValue\\", '
            '\\"value\\": \\"Hello, World!\\"}"}',
        ),
        (
            "test4",
            '{"schedule": "@daily", "repeats": 3, "due_time": "10s", "ttl": "11s", '
            '"data": "Hello, World!"}',
        ),
    ],
)
def test_basic_good_json(client, name, body):
    response = send(client, "POST", f"/v1.0/jobs/{name}", body)
    assert response.status_code == 204, response.json_body
    assert response.body == b""


# --- http/errors.go ------------------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/errors.go: errors, "schedule is empty"
def test_errors_schedule_is_empty(client):
    response = send(client, "POST", "/v1.0/jobs/test", "{}")
    assert_dapr_error(response, 400, "DAPR_SCHEDULER_SCHEDULE_EMPTY", "Schedule is empty")


# tests/integration/suite/daprd/jobs/http/errors.go: errors, "schedule job name is empty"
def test_errors_schedule_job_name_is_empty(client):
    response = send(client, "POST", "/v1.0/jobs/%20", '{"schedule": "@daily"}')
    assert_dapr_error(response, 400, "DAPR_SCHEDULER_JOB_NAME_EMPTY", "Name is empty")
    assert client.get("/v1/jobs").json_body["items"] == []


# tests/integration/suite/daprd/jobs/http/errors.go: errors, "schedule two job names"
def test_errors_schedule_two_job_names(client):
    body = '{"name": "test1", "schedule": "test", "repeats": 1}'
    response = send(client, "POST", "/v1.0/jobs/test", body)
    assert_dapr_error(response, 400, "DAPR_SCHEDULER_JOB_NAME", "Set the job name in the url only")


# tests/integration/suite/daprd/jobs/http/errors.go: errors, "delete job not found"
def test_errors_delete_job_not_found(client):
    assert client.delete("/v1.0/jobs/notfound").status_code == 204


# tests/integration/suite/daprd/jobs/http/errors.go: errors, "get job not found"
# Documented exception: upstream answers 500; beatless answers 404 (the job is missing, the
# server is fine), with upstream's errorCode, message and details.
def test_errors_get_job_not_found(client):
    response = client.get("/v1.0/jobs/notfound")
    assert_dapr_error(response, 404, "DAPR_SCHEDULER_GET_JOB")
    assert "failed to get job" in response.json_body["message"]


# --- http/fields.go ------------------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/fields.go: fields (upstream reads the job back over
# gRPC; here over HTTP GET, where the durations are the strings as sent)
def test_fields(client):
    body = """{
    "schedule": "@every 1m",
    "repeats": 123,
    "dueTime": "1000s",
    "ttl": "123s",
    "data": "hello world",
    "failure_policy": {"constant": {"interval": "3s", "max_retries": 5}}
    }"""
    assert send(client, "POST", "/v1.0/jobs/test", body).status_code == 204
    got = client.get("/v1.0/jobs/test")
    assert got.status_code == 200
    assert got.json_body == {
        "name": "test",
        "schedule": "@every 1m",
        "repeats": 123,
        "dueTime": "1000s",
        "ttl": "123s",
        "data": "hello world",
        "failurePolicy": {"constant": {"interval": "3s", "maxRetries": 5}},
    }


# --- delivery to an HTTP app -----------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/api.go: api (every data shape, delivered as JSON)
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("simple-string", '"someData"', '"someData"'),
        ("quoted-string", '"\\"xyz\\""', '"\\"xyz\\""'),
        ("number", "123", "123"),
        ("object", '{"expression":"val"}', '{"expression":"val"}'),
        ("object-space", '  {    "expression":   "val" } ', '{"expression":"val"}'),
        (
            "proto-string",
            '{"@type":"type.googleapis.com/google.protobuf.StringValue","value": "aproto"}',
            '{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"aproto"}',
        ),
        (
            "proto-string-space",
            '  {  "@type":  "type.googleapis.com/google.protobuf.StringValue",'
            '"value": "aproto"   }   ',
            '{"@type":"type.googleapis.com/google.protobuf.StringValue", "value":"aproto"}',
        ),
    ],
)
def test_api_data_shapes(client, dapr_app, name, data, expected):  # noqa: F811
    body = f'{{"dueTime":"0s","data":{data}}}'
    assert send(client, "POST", f"/v1.0/jobs/{name}", body).status_code == 204
    drain()
    ((path, delivered),) = dapr_app.received
    assert path == f"/job/{name}"
    assert json.loads(delivered) == json.loads(expected)


# tests/integration/suite/daprd/jobs/http/nodata.go: nodata, "scheduled over HTTP"
def test_nodata_scheduled_over_http(client, dapr_app):  # noqa: F811
    response = send(client, "POST", "/v1.0/jobs/nodata-http", '{"due_time": "0s"}')
    assert response.status_code == 204
    drain()
    assert dapr_app.received == [("/job/nodata-http", b"")]


# tests/integration/suite/daprd/jobs/http/appapitoken.go: appapitoken
def test_appapitoken(client, dapr_app, monkeypatch):  # noqa: F811
    monkeypatch.setenv("BEATLESS_DAPR_APP_API_TOKEN", "test-job-app-token")
    reset_settings()
    body = '{"schedule": "@every 1s", "data": {"message": "test"}}'
    assert send(client, "POST", "/v1.0/jobs/test-job", body).status_code == 204
    assert deliveries(dapr_app, 1, then_quiet=0) >= 1
    assert dapr_app.received[0] == ("/job/test-job", b'{"message":"test"}')
    assert dapr_app.headers[0].get("dapr-api-token") == "test-job-app-token"


# --- failurepolicy/ ----------------------------------------------------------------------------


def _schedule_test(client: Any, policy: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"dueTime": "0s"}
    if policy is not None:
        body["failurePolicy"] = policy
    assert send(client, "POST", "/v1.0/jobs/test", body).status_code == 204


# tests/integration/suite/daprd/jobs/failurepolicy/noset/allfail.go: allfail (default policy:
# 1 attempt + 3 retries, then no more)
def test_failurepolicy_noset_allfail(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500] * 10
    _schedule_test(client)
    assert deliveries(dapr_app, 4, then_quiet=3.0) == 4
    assert [path for path, _ in dapr_app.received] == ["/job/test"] * 4


# tests/integration/suite/daprd/jobs/failurepolicy/noset/failfirst.go: failfirst
def test_failurepolicy_noset_failfirst(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500]
    _schedule_test(client)
    assert deliveries(dapr_app, 2) == 2


# tests/integration/suite/daprd/jobs/failurepolicy/noset/failsecond.go: failsecond
def test_failurepolicy_noset_failsecond(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500, 500]
    _schedule_test(client)
    assert deliveries(dapr_app, 3) == 3


# tests/integration/suite/daprd/jobs/failurepolicy/noset/failthird.go: failthird
def test_failurepolicy_noset_failthird(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500, 500, 500]
    _schedule_test(client)
    assert deliveries(dapr_app, 4) == 4


# tests/integration/suite/daprd/jobs/failurepolicy/constant/maxretries.go: maxretries (no
# interval given: retries at once)
def test_failurepolicy_constant_maxretries(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500] * 10
    _schedule_test(client, {"constant": {"maxRetries": 4}})
    assert deliveries(dapr_app, 5) == 5


# tests/integration/suite/daprd/jobs/failurepolicy/constant/interval.go: interval (once at
# once, not again within 2 s, again by 3 s after the first)
def test_failurepolicy_constant_interval(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500] * 10
    _schedule_test(client, {"constant": {"interval": "3s"}})
    started = time.monotonic()
    drain()
    assert len(dapr_app.received) == 1
    drain_for(2.0 - (time.monotonic() - started))
    assert len(dapr_app.received) == 1
    assert deliveries(dapr_app, 2, within=6.0, then_quiet=0) == 2


# tests/integration/suite/daprd/jobs/failurepolicy/drop/failed.go: failed
def test_failurepolicy_drop_failed(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500]
    _schedule_test(client, {"drop": {}})
    assert deliveries(dapr_app, 1, then_quiet=3.0) == 1


# tests/integration/suite/daprd/jobs/failurepolicy/drop/success.go: success
def test_failurepolicy_drop_success(client, dapr_app):  # noqa: F811
    _schedule_test(client, {"drop": {}})
    assert deliveries(dapr_app, 1, then_quiet=3.0) == 1


# tests/integration/suite/daprd/jobs/failurepolicy/notfound.go: notfound (a 404 from the app
# does not trigger the failure policy)
def test_failurepolicy_notfound(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [404]
    _schedule_test(client)
    assert deliveries(dapr_app, 1) == 1
