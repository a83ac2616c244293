"""Contract tests of the Dapr jobs face, and delivery to an app on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app import worker
from chalicelib.settings import reset_settings
from tests.api.helpers import send
from tests.conftest import drain, schedules_of

PREFIXES = ["/v1.0-alpha1/jobs", "/v1.0/jobs"]


def fire(client: Any, name: str, when: str = "2030-01-01T00:00:00Z") -> dict:
    (job,) = [j for j in client.get("/v1/jobs").json_body["items"] if j["name"] == name]
    return worker({"job_id": job["id"], "tenant": "default", "scheduled_time": when}, None)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_schedule_get_delete_round_trip(client, scheduler, prefix):
    body = {"job": {"data": {"value": "Running spice"}, "schedule": "@every 1m", "repeats": 5}}
    response = send(client, "POST", f"{prefix}/jobforjabba", body)
    assert (response.status_code, response.body) == (204, b"")
    got = client.get(f"{prefix}/jobforjabba")
    assert got.status_code == 200
    assert got.json_body == {
        "name": "jobforjabba",
        "schedule": "@every 1m",
        "repeats": 5,
        "data": {"value": "Running spice"},
        "failurePolicy": {"constant": {"interval": "1s", "maxRetries": 3}},
    }
    native = client.get("/v1/jobs").json_body["items"][0]
    assert (native["task"], native["expressions"]) == ("dapr.deliver", ["rate(1 minute)"])
    assert client.delete(f"{prefix}/jobforjabba").status_code == 204
    assert client.get(f"{prefix}/jobforjabba").status_code == 404
    assert scheduler.list_schedules()["Schedules"] == []
    assert client.delete(f"{prefix}/jobforjabba").status_code == 204  # missing: 204, as Dapr


def test_flat_snake_case_body_and_six_field_cron(client):
    body = {
        "schedule": "0 30 * * * *",
        "due_time": "2030-01-01T00:00:00Z",
        "ttl": "24h",
        "failure_policy": {"constant": {"interval": "3s", "max_retries": 2}},
        "data": 123,
    }
    assert send(client, "POST", "/v1.0/jobs/flat", body).status_code == 204
    got = client.get("/v1.0/jobs/flat").json_body
    assert (got["schedule"], got["dueTime"], got["ttl"], got["data"]) == (
        "0 30 * * * *",
        "2030-01-01T00:00:00Z",
        "24h",
        123,
    )
    assert got["failurePolicy"] == {"constant": {"interval": "3s", "maxRetries": 2}}
    native = client.get("/v1/jobs").json_body["items"][0]
    assert native["retry"]["max_attempts"] == 3
    assert "cron(30 * * * ? *)" in native["expressions"]


def test_drop_policy_round_trips(client):
    send(client, "POST", "/v1.0/jobs/d", {"dueTime": "1h", "failurePolicy": {"drop": {}}})
    assert client.get("/v1.0/jobs/d").json_body["failurePolicy"] == {"drop": {}}


def test_existing_name_without_overwrite_is_409_and_overwrite_replaces(client):
    send(client, "POST", "/v1.0/jobs/x", {"schedule": "@daily", "data": 1})
    clash = send(client, "POST", "/v1.0/jobs/x", {"schedule": "@hourly"})
    assert clash.status_code == 409
    assert clash.json_body["errorCode"] == "DAPR_SCHEDULER_SCHEDULE_JOB"  # upstream's code
    assert clash.json_body["message"].startswith("failed to schedule job due to: ")
    again = send(
        client, "POST", "/v1.0/jobs/x", {"schedule": "@hourly", "data": 2, "overwrite": True}
    )
    assert again.status_code == 204
    assert client.get("/v1.0/jobs/x").json_body["schedule"] == "@hourly"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "Schedule is empty"),
        ({"data": 1}, "Schedule is empty"),
        ({"schedule": "not a cron"}, "schedule"),
        ({"dueTime": "tomorrow"}, "'tomorrow' is neither"),
        ({"schedule": "@daily", "ttl": "forever"}, "'forever' is neither"),
        ({"dueTime": "5s", "ttl": "1h"}, "must have a schedule to have a ttl"),
        ({"dueTime": "5s", "repeats": 3}, "must have a schedule to repeat"),
        ({"schedule": "@daily", "repeats": -1}, "greater than or equal to 0"),
        ({"schedule": "@daily", "name": "other"}, "Set the job name in the url only"),
        ({"schedule": "CRON_TZ=Nowhere/Land 0 0 * * * *"}, "not a known IANA"),
        ({"schedule": "CRON_TZ=Europe/Paris @every 1m"}, "cannot be combined"),
        ({"schedule": "@daily", "failurePolicy": {"constant": {"interval": "2m"}}}, "pattern"),
    ],
)
def test_invalid_jobs_are_400s_not_500s(client, body, fragment):
    response = send(client, "POST", "/v1.0/jobs/bad", body)
    assert response.status_code == 400, response.json_body
    assert fragment in response.json_body["message"]
    assert response.json_body["errorCode"]
    assert not response.json_body["message"].startswith(("schedule:", "due_time:", "repeats:"))


def test_malformed_json_is_err_malformed_request(client):
    response = send(client, "POST", "/v1.0/jobs/bad", "{nope")
    assert (response.status_code, response.json_body["errorCode"]) == (400, "ERR_MALFORMED_REQUEST")


def test_missing_job_is_a_404_and_bad_names_400(client):
    response = client.get("/v1.0/jobs/nothere")
    assert (response.status_code, response.json_body["errorCode"]) == (
        404,
        "DAPR_SCHEDULER_GET_JOB",
    )
    assert send(client, "POST", "/v1.0/jobs/..", {"schedule": "@daily"}).status_code in (400, 404)
    assert (
        send(client, "POST", "/v1.0/jobs/" + "n" * 600, {"schedule": "@daily"}).status_code == 400
    )


def test_auth_uses_bearer_keys_scoped_to_the_tenant(client, new_key):
    send(client, "POST", "/v1.0/jobs/mine", {"schedule": "@daily"})
    assert client.as_key(None).get("/v1.0/jobs/mine").status_code == 401
    other = client.as_key(new_key(tenant="other", role="admin"))
    assert other.get("/v1.0/jobs/mine").status_code == 404


def test_dapr_api_token_header_authenticates_like_the_other_key_headers(client, new_key):
    """Dapr clients send their API token as ``dapr-api-token``."""
    send(client, "POST", "/v1.0/jobs/mine", {"schedule": "@daily"})
    anonymous = client.as_key(None)
    token = {"dapr-api-token": new_key(role="user")}
    assert anonymous.get("/v1.0/jobs/mine", headers=token).status_code == 200
    refused = anonymous.get("/v1.0/jobs/mine", headers={"dapr-api-token": "bl_nope"})
    assert refused.status_code == 401


def test_get_of_a_job_without_data_omits_data(client):
    """As Dapr's protojson: an unset ``data`` is absent, not ``null``."""
    send(client, "POST", "/v1.0/jobs/empty", {"schedule": "@daily"})
    got = client.get("/v1.0/jobs/empty").json_body
    assert "data" not in got
    assert got["schedule"] == "@daily"


def test_due_time_alone_fires_once_then_disappears_but_its_run_stays(client):
    send(client, "POST", "/v1.0/jobs/once", {"dueTime": "2h", "data": {"k": "v"}})
    answer = fire(client, "once", when=client.get("/v1/jobs").json_body["items"][0]["next_run_at"])
    assert answer["status"] == "SUCCEEDED"
    assert client.get("/v1.0/jobs/once").status_code == 404
    run = client.get(f"/v1/tasks/{answer['run_id']}").json_body
    assert run["result"] == {"k": "v"}  # no app endpoint: the run records the data


def test_repeats_cap_the_fires_and_the_used_up_job_is_gone(client):
    send(client, "POST", "/v1.0/jobs/twice", {"schedule": "@hourly", "repeats": 2})
    assert fire(client, "twice", "2030-01-01T01:00:00Z")["status"] == "SUCCEEDED"
    assert fire(client, "twice", "2030-01-01T02:00:00Z")["status"] == "SUCCEEDED"
    assert client.get("/v1.0/jobs/twice").status_code == 404
    assert send(client, "POST", "/v1.0/jobs/twice", {"schedule": "@daily"}).status_code == 204


class _App(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[str, bytes]] = []
    headers: list[dict[str, str]] = []  # the request headers of each call, lower-cased names

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        _App.received.append((self.path, self.rfile.read(length)))
        _App.headers.append({k.lower(): v for k, v in self.headers.items()})
        status = _App.statuses.pop(0) if _App.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def dapr_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_App]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _App.statuses, _App.received, _App.headers = [], [], []
    port = server.server_address[1]
    monkeypatch.setenv(
        "BEATLESS_DAPR_APP_ENDPOINTS", json.dumps({"default": f"http://127.0.0.1:{port}"})
    )
    monkeypatch.setenv("BEATLESS_DAPR_ALLOWED_HOSTS", "127.0.0.1")
    reset_settings()
    yield _App
    server.shutdown()
    reset_settings()


def test_a_triggered_job_posts_its_data_to_the_app(client, dapr_app):
    send(client, "POST", "/v1.0/jobs/deliver me", {"dueTime": "2h", "data": {"value": 1}})
    answer = fire(client, "deliver me")
    assert answer["status"] == "SUCCEEDED"
    assert dapr_app.received == [("/job/deliver%20me", b'{"value":1}')]


def test_404_from_the_app_counts_as_delivered(client, dapr_app):
    dapr_app.statuses = [404]
    send(client, "POST", "/v1.0/jobs/gone", {"dueTime": "2h", "data": 1})
    assert fire(client, "gone")["status"] == "SUCCEEDED"


def test_failures_follow_the_failure_policy(client, dapr_app):
    dapr_app.statuses = [500, 503]
    policy = {"constant": {"interval": "0s", "maxRetries": 3}}
    send(client, "POST", "/v1.0/jobs/flaky", {"dueTime": "2h", "data": 1, "failurePolicy": policy})
    answer = fire(client, "flaky")
    assert answer["status"] == "QUEUED"  # first attempt failed, retry queued
    drain()
    run = client.get(f"/v1/tasks/{answer['run_id']}").json_body
    assert (run["status"], run["attempt"]) == ("SUCCEEDED", 3)
    assert len(dapr_app.received) == 3


def test_drop_policy_does_not_retry(client, dapr_app):
    dapr_app.statuses = [500]
    send(client, "POST", "/v1.0/jobs/drop", {"dueTime": "2h", "failurePolicy": {"drop": {}}})
    answer = fire(client, "drop")
    assert answer["status"] == "FAILED"
    assert len(dapr_app.received) == 1


def test_an_endpoint_off_the_allow_list_is_never_called(client, dapr_app, monkeypatch):
    monkeypatch.setenv("BEATLESS_DAPR_ALLOWED_HOSTS", "app.internal")
    reset_settings()
    send(client, "POST", "/v1.0/jobs/ssrf", {"dueTime": "2h", "failurePolicy": {"drop": {}}})
    answer = fire(client, "ssrf")
    run = client.get(f"/v1/tasks/{answer['run_id']}").json_body
    assert (run["status"], run["exc"]) == ("FAILED", "DeliveryRefused")
    assert dapr_app.received == []


def test_due_time_30s_takes_the_sqs_path(client, scheduler):
    send(client, "POST", "/v1.0/jobs/soon", {"dueTime": "30s"})
    (job,) = client.get("/v1/jobs").json_body["items"]
    assert job["path"] == "sqs"
    assert schedules_of(scheduler, job["id"]) == {}


@pytest.mark.parametrize(
    "name", ["%20", "%20%20", "%E3%80%80", "%20padded", "padded%20", "%C2%A0x"]
)
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_blank_and_padded_names_are_400s(client, name, method):
    """A name in the path is the job's name: blank, or with whitespace around it, it is refused
    (not trimmed: `" a"` and `"a"` would be two jobs that look alike)."""
    response = send(client, method, f"/v1.0/jobs/{name}", {"schedule": "@daily"})
    assert response.status_code == 400, response.json_body
    if name.replace("%20", "").replace("%E3%80%80", "") == "":  # blank: upstream's "Name is empty"
        expected = ("DAPR_SCHEDULER_JOB_NAME_EMPTY", "Name is empty")
        assert (response.json_body["errorCode"], response.json_body["message"]) == expected
    else:
        operation = {"POST": "SCHEDULE_JOB", "GET": "GET_JOB", "DELETE": "DELETE_JOB"}[method]
        assert response.json_body["errorCode"] == f"DAPR_SCHEDULER_{operation}"
        assert "whitespace" in response.json_body["message"]
    assert client.get("/v1/jobs").json_body["items"] == []
