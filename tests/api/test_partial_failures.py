"""Injected AWS failures: a job never exists without its schedules, nor schedules without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.connection.base import Connection

from chalicelib import services
from tests.api.helpers import create, job_body, send
from tests.conftest import schedules_of


def _error(code: str = "ThrottlingException", operation: str = "CreateSchedule") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


@pytest.fixture
def fail_scheduler(client: Any) -> Callable[..., None]:
    """Make the app's scheduler client fail ``operation`` on call number ``on`` (1-based)."""

    def install(operation: str, on: int = 1) -> None:
        calls = {"n": 0}

        def hook(**_: Any) -> None:
            calls["n"] += 1
            if calls["n"] == on:
                raise _error(operation=operation)

        gateway = services.job_service()._gateway
        gateway.client.meta.events.register(f"before-call.scheduler.{operation}", hook)

    return install


def _names(client: Any) -> list[str]:
    return [j["name"] for j in client.get("/v1/jobs").json_body["items"]]


def test_create_schedule_failure_leaves_no_job_behind(client, scheduler, fail_scheduler):
    fail_scheduler("CreateSchedule")
    response = send(client, "POST", "/v1/jobs", job_body())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json_body["error"]["code"] == "service_unavailable"
    assert _names(client) == []
    assert scheduler.list_schedules()["Schedules"] == []
    assert send(client, "POST", "/v1/jobs", job_body()).status_code == 201  # name is free


def test_failure_on_second_schedule_of_a_split_removes_the_first(client, scheduler, fail_scheduler):
    fail_scheduler("CreateSchedule", on=2)
    response = send(client, "POST", "/v1/jobs", job_body(schedule="30 4 1,15 * 5"))
    assert response.status_code == 503
    assert _names(client) == []
    assert scheduler.list_schedules()["Schedules"] == []


def test_update_schedule_failure_restores_the_item(client, scheduler, fail_scheduler):
    job = create(client)
    fail_scheduler("UpdateSchedule")
    response = send(client, "PUT", f"/v1/jobs/{job['id']}", job_body(schedule="@hourly"))
    assert response.status_code == 503
    current = client.get(f"/v1/jobs/{job['id']}").json_body
    assert current["schedule"] == "0 2 * * *"
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["ScheduleExpression"] == "cron(0 2 * * ? *)"
    retry = send(client, "PUT", f"/v1/jobs/{job['id']}", job_body(schedule="@hourly"))
    assert retry.status_code == 200


def test_switch_to_split_failing_halfway_restores_one_schedule(client, scheduler, fail_scheduler):
    job = create(client)
    fail_scheduler("CreateSchedule")  # the new "-dow" half fails after the main one was updated
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"schedule": "30 4 1,15 * 5"})
    assert response.status_code == 503
    got = schedules_of(scheduler, job["id"])
    assert [s["ScheduleExpression"] for s in got.values()] == ["cron(0 2 * * ? *)"]


def test_pause_failure_keeps_the_job_enabled(client, scheduler, fail_scheduler):
    job = create(client)
    fail_scheduler("UpdateSchedule")
    assert client.post(f"/v1/jobs/{job['id']}/pause").status_code == 503
    assert client.get(f"/v1/jobs/{job['id']}").json_body["enabled"] is True
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["State"] == "ENABLED"


def test_delete_schedule_failure_keeps_the_job(client, scheduler, fail_scheduler):
    job = create(client)
    fail_scheduler("DeleteSchedule")
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 503
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 200
    assert len(schedules_of(scheduler, job["id"])) == 1
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert schedules_of(scheduler, job["id"]) == {}


def test_table_failure_creates_no_schedule(client, scheduler, monkeypatch):
    original = Connection._make_api_call

    def failing(self: Connection, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if operation == "TransactWriteItems":
            raise _error("ProvisionedThroughputExceededException", operation)
        return original(self, operation, kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", failing)
    response = send(client, "POST", "/v1/jobs", job_body())
    assert response.status_code == 503
    assert scheduler.list_schedules()["Schedules"] == []
    monkeypatch.undo()
    assert _names(client) == []
