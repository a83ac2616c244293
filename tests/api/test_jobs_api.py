"""The native jobs API through chalice.test.Client, with schedules read back from moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.settings import get_settings
from chalicelib.storage import JobModel
from tests.api.helpers import create, job_body, send
from tests.conftest import schedules_of


def test_status_is_open_and_active(client):
    response = client.get("/v1/status")
    assert response.status_code == 200
    body = response.json_body
    assert body["service"] == "beatless"
    assert body["status"] == "Active"
    assert set(body) == {"id", "service", "startDate", "status", "version"}


def test_registered_tasks_list_builtins_with_queue_and_doc(client):
    items = client.get("/v1/tasks/registered").json_body["items"]
    names = {t["name"]: t for t in items}
    assert {"echo", "sleep", "fail"} <= set(names)
    assert names["echo"]["queue"] == "default"
    assert names["sleep"]["doc"].startswith("Sleep")


def test_create_crontab_job_writes_item_and_one_schedule_with_every_field(client, scheduler):
    job = create(
        client,
        name="weekday-report",
        schedule=None,
        crontab={"minute": "0", "hour": "9", "day_of_week": "mon-fri"},
        timezone="Europe/Paris",
        args=[1, 2],
        kwargs={"k": "v"},
    )
    assert job["schedule"] == "0 9 * * mon-fri"
    assert job["expressions"] == ["cron(0 9 ? * 2-6 *)"]
    assert job["path"] == "scheduler"
    assert job["version"] == 1
    assert job["enabled"] is True
    assert job["total_run_count"] == 0
    assert job["next_run_at"].endswith("T08:00:00Z")
    settings = get_settings()
    schedules = schedules_of(scheduler, job["id"])
    assert list(schedules) == [f"job-{job['id']}"]
    got = schedules[f"job-{job['id']}"]
    assert got["GroupName"] == settings.schedule_group
    assert got["ScheduleExpression"] == "cron(0 9 ? * 2-6 *)"
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert got["State"] == "ENABLED"
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert got["ActionAfterCompletion"] == "NONE"
    assert "StartDate" not in got
    assert "EndDate" not in got
    target = got["Target"]
    assert target["Arn"] == settings.worker_arn
    assert target["RoleArn"] == settings.scheduler_role_arn
    assert target["DeadLetterConfig"] == {"Arn": settings.scheduler_dlq_arn}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}
    assert json.loads(target["Input"]) == {
        "job_id": job["id"],
        "tenant": "default",
        "schedule": f"job-{job['id']}",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        # the job's spec as stored: its fires are decided without reading the job (issue 17)
        "spec": JobModel.get("default", job["id"]).spec,
    }


def test_interval_job_gets_a_rate_with_start_date(client, scheduler):
    job = create(client, schedule=None, interval={"every": 5, "period": "minutes"})
    assert job["schedule"] == "every 5 minutes"
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["ScheduleExpression"] == "rate(5 minutes)"
    assert got["StartDate"].astimezone(UTC).isoformat().replace("+00:00", "Z") == job["next_run_at"]


def test_end_at_becomes_the_schedule_end_date(client, scheduler):
    job = create(client, schedule="@hourly", end_at="2099-01-01T00:00:00Z", repeats=5)
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["EndDate"] == datetime(2099, 1, 1, tzinfo=UTC)
    assert job["repeats"] == 5


def test_far_due_time_is_a_one_time_schedule_that_deletes_itself(client, scheduler):
    job = create(client, schedule=None, due_time="2099-06-01T10:00:30Z")
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["Name"] == f"job-{job['id']}-due"
    assert got["ScheduleExpression"] == "at(2099-06-01T09:59:00)"
    assert got["ScheduleExpressionTimezone"] == "UTC"
    assert got["ActionAfterCompletion"] == "DELETE"
    assert job["path"] == "sqs"
    assert job["next_run_at"] == "2099-06-01T10:00:30Z"


def test_near_due_time_needs_no_schedule(client, scheduler):
    job = create(client, schedule=None, due_time="30s")
    assert schedules_of(scheduler, job["id"]) == {}
    assert job["path"] == "sqs"
    assert job["expressions"] == []


def test_vixie_or_job_gets_two_schedules(client, scheduler):
    job = create(client, schedule="30 4 1,15 * 5")
    got = schedules_of(scheduler, job["id"])
    assert {s["ScheduleExpression"] for s in got.values()} == {
        "cron(30 4 1,15 * ? *)",
        "cron(30 4 ? * 6 *)",
    }


def test_subminute_job_is_marked_for_the_sqs_path(client, scheduler):
    job = create(client, schedule="@every 30s")
    assert job["path"] == "sqs"
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["ScheduleExpression"] == "rate(1 minute)"


def test_duplicate_name_is_a_409_naming_the_existing_id(client):
    first = create(client)
    response = send(client, "POST", "/v1/jobs", job_body())
    assert response.status_code == 409
    assert response.json_body["error"]["details"]["existing_id"] == first["id"]


def test_unregistered_task_is_a_400(client, scheduler):
    response = send(client, "POST", "/v1/jobs", job_body(task="nope"))
    assert response.status_code == 400
    assert response.json_body["error"]["details"]["field"] == "task"
    assert "not a registered task" in response.json_body["error"]["message"]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        (
            {"schedule": None, "crontab": {"minute": 61}},
            "crontab.minute",
            "61 is out of range 0-59",
        ),
        ({"schedule": "bad cron"}, "schedule", "has 2 fields"),
        ({"schedule": None}, "schedule", "one of crontab, schedule, interval or due_time"),
        ({"name": ""}, "name", "at least 1 character"),
        ({"name": "a/b"}, "name", "must not contain / \\ # ?"),
        ({"name": "  "}, "name", "must not be blank"),
        ({"name": "padded "}, "name", "must not start or end with whitespace"),
        ({"task": None}, "task", "is required"),
        ({"enabled": "yes"}, "enabled", "valid boolean"),
        ({"args": {"a": 1}}, "args", "valid list"),
        ({"queue": "urgent"}, "queue", "'high', 'default' or 'low'"),
        ({"surprise": 1}, "surprise", "not a known field"),
        (
            {"schedule": None, "interval": {"every": "5", "period": "minutes"}},
            "interval.every",
            "valid integer",
        ),
        ({"timezone": "Mars/Olympus"}, "timezone", "not a known IANA"),
        ({"repeats": -1}, "repeats", "greater than or equal to 1"),
    ],
)
def test_invalid_jobs_are_400s_naming_field_and_rule(client, overrides, field, fragment):
    response = send(client, "POST", "/v1/jobs", job_body(**overrides))
    assert response.status_code == 400, response.json_body
    error = response.json_body["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field
    assert fragment in error["message"]


def test_no_eventbridge_equivalent_is_a_422_that_explains(client, scheduler):
    response = send(
        client,
        "POST",
        "/v1/jobs",
        job_body(schedule=None, crontab={"day_of_month": "2-9", "day_of_week": "1"}),
    )
    assert response.status_code == 422
    assert "the other must be ?" in response.json_body["error"]["message"]
    assert client.get("/v1/jobs").json_body["items"] == []


@pytest.mark.parametrize("raw", ["{bad", "[1, 2]", '"text"'])
def test_malformed_bodies_are_400s(client, raw):
    response = send(client, "POST", "/v1/jobs", raw)
    assert response.status_code == 400
    assert response.json_body["error"]["details"]["field"] == "body"


def test_body_without_content_type_is_still_parsed(client):
    response = client.post(
        "/v1/jobs",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=json.dumps(job_body()),
    )
    assert response.status_code == 201


def test_unknown_route_is_a_json_404_and_wrong_method_a_405(client):
    response = client.get("/v1/nothing/here")
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"
    response = client.request("DELETE", "/v1/status", headers={}, body=b"")
    assert response.status_code == 405
    assert response.json_body["error"]["code"] == "method_not_allowed"


def test_get_missing_job_is_a_404(client):
    response = client.get("/v1/jobs/01nothere")
    assert response.status_code == 404
    assert response.json_body["error"]["details"] == {"id": "01nothere"}


def test_list_pages_with_an_opaque_cursor_and_filters(client):
    ids = [create(client, name=f"job-{i}", enabled=i % 2 == 0)["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        query = "/v1/jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query).json_body
        assert len(page["items"]) <= 2
        seen += [j["id"] for j in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == ids
    enabled = client.get("/v1/jobs?enabled=true").json_body["items"]
    assert [j["id"] for j in enabled] == ids[0::2]
    page = client.get("/v1/jobs?enabled=false&limit=1").json_body
    assert [j["id"] for j in page["items"]] == [ids[1]]
    rest = client.get(f"/v1/jobs?enabled=false&limit=1&cursor={page['cursor']}").json_body
    assert [j["id"] for j in rest["items"]] == [ids[3]]
    assert rest["cursor"] is None
    assert client.get("/v1/jobs?task=sleep").json_body["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("cursor=garbage!", "cursor"),
        ("enabled=maybe", "enabled"),
        ("enabled=", "enabled"),  # typed parameters: empty is not absent (schemathesis found it)
        ("enabled=True", "enabled"),
        ("limit=", "limit"),
        ("/v1/tasks?status=", "status"),
    ],
)
def test_bad_list_parameters_are_400s(client, query, field):
    response = client.get(query if query.startswith("/") else f"/v1/jobs?{query}")
    assert response.status_code == 400
    assert response.json_body["error"]["details"]["field"] == field


def test_forged_cursor_for_another_tenant_is_refused(client):
    import base64

    forged = base64.urlsafe_b64encode(b'{"job_id":"0","tenant":"other"}').decode().rstrip("=")
    response = client.get(f"/v1/jobs?cursor={forged}")
    assert response.status_code == 400


def test_put_replaces_the_job_and_its_schedule(client, scheduler):
    job = create(client, kwargs={"keep": False})
    body = job_body(schedule=None, interval={"every": 2, "period": "hours"}, description="new")
    response = send(client, "PUT", f"/v1/jobs/{job['id']}", body)
    assert response.status_code == 200, response.json_body
    updated = response.json_body
    assert updated["version"] == 2
    assert updated["kwargs"] == {}
    assert updated["description"] == "new"
    assert updated["created_at"] == job["created_at"]
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["ScheduleExpression"] == "rate(2 hours)"


def test_put_accepts_its_own_get_body(client):
    job = create(client, schedule=None, crontab={"minute": "5"})
    response = send(client, "PUT", f"/v1/jobs/{job['id']}", job)
    assert response.status_code == 200, response.json_body
    assert response.json_body["crontab"] == {"minute": "5"}


def test_put_with_a_stale_version_is_a_409_and_changes_nothing(client):
    job = create(client)
    assert send(client, "PUT", f"/v1/jobs/{job['id']}", job_body(version=1)).status_code == 200
    stale = send(client, "PUT", f"/v1/jobs/{job['id']}", job_body(version=1, description="x"))
    assert stale.status_code == 409
    assert stale.json_body["error"]["details"]["version"] == 2
    assert client.get(f"/v1/jobs/{job['id']}").json_body["description"] == ""


def test_if_match_header_is_an_alternative_to_version(client):
    job = create(client)
    response = send(
        client, "PATCH", f"/v1/jobs/{job['id']}", {"description": "d"}, **{"If-Match": '"7"'}
    )
    assert response.status_code == 409


def test_patch_merges_and_switching_schedule_form_replaces_the_old_one(client, scheduler):
    job = create(client, timezone="Asia/Tokyo")
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"description": "hello"})
    assert response.json_body["description"] == "hello"
    assert response.json_body["schedule"] == "0 2 * * *"
    response = send(
        client, "PATCH", f"/v1/jobs/{job['id']}", {"crontab": {"minute": 0, "hour": "*/2"}}
    )
    assert response.status_code == 200, response.json_body
    patched = response.json_body
    assert patched["crontab"] == {"minute": 0, "hour": "*/2"}
    assert patched["timezone"] == "Asia/Tokyo"
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["ScheduleExpression"] == "cron(0 0/2 * * ? *)"
    assert got["ScheduleExpressionTimezone"] == "Asia/Tokyo"


def test_patch_rename_moves_the_name_guard(client):
    job = create(client)
    send(client, "PATCH", f"/v1/jobs/{job['id']}", {"name": "renamed"})
    other = send(client, "POST", "/v1/jobs", job_body())  # the old name is free again
    assert other.status_code == 201
    clash = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"name": "nightly-report"})
    assert clash.status_code == 409
    assert clash.json_body["error"]["details"]["existing_id"] == other.json_body["id"]


def test_patch_with_invalid_schedule_leaves_the_job_alone(client, scheduler):
    job = create(client)
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"schedule": "99 * * * *"})
    assert response.status_code == 400
    assert client.get(f"/v1/jobs/{job['id']}").json_body["version"] == 1


def test_pause_and_resume_toggle_the_schedule_state(client, scheduler):
    job = create(client, schedule="30 4 1,15 * 5")
    paused = client.post(f"/v1/jobs/{job['id']}/pause").json_body
    assert paused["enabled"] is False
    assert paused["next_run_at"] is None
    assert {s["State"] for s in schedules_of(scheduler, job["id"]).values()} == {"DISABLED"}
    assert client.post(f"/v1/jobs/{job['id']}/pause").json_body["version"] == paused["version"]
    resumed = client.post(f"/v1/jobs/{job['id']}/resume").json_body
    assert resumed["enabled"] is True
    assert resumed["next_run_at"] is not None
    assert {s["State"] for s in schedules_of(scheduler, job["id"]).values()} == {"ENABLED"}


def test_created_disabled_job_has_disabled_schedule(client, scheduler):
    job = create(client, enabled=False)
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["State"] == "DISABLED"


def test_delete_removes_item_name_and_schedules(client, scheduler):
    job = create(client, schedule="30 4 1,15 * 5")
    response = client.delete(f"/v1/jobs/{job['id']}")
    assert response.status_code == 204
    assert response.body == b""
    assert schedules_of(scheduler, job["id"]) == {}
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 404
    assert send(client, "POST", "/v1/jobs", job_body()).status_code == 201


def test_preview_shows_expressions_next_times_and_description(client):
    response = send(
        client,
        "POST",
        "/v1/schedules/preview",
        {"crontab": {"minute": 0, "hour": 9}, "timezone": "Europe/Paris", "count": 3},
    )
    assert response.status_code == 200
    body = response.json_body
    assert body["expressions"] == ["cron(0 9 * * ? *)"]
    assert body["timezone"] == "Europe/Paris"
    assert len(body["next"]) == 3
    assert all(t.endswith(("T08:00:00Z", "T07:00:00Z")) for t in body["next"])
    assert body["description"] == "at 09:00 (Europe/Paris)"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"schedule": "@daily", "count": 101}, 400),
        ({"schedule": "@daily", "count": 0}, 400),
        ({"crontab": {"day_of_month": "3", "day_of_week": "2"}}, 422),
        ({}, 400),
    ],
)
def test_preview_errors_match_job_errors(client, body, status):
    assert send(client, "POST", "/v1/schedules/preview", body).status_code == status


def test_openapi_document_is_valid_and_covers_every_route(client):
    from openapi_spec_validator import validate

    document = client.get("/openapi.json").json_body
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/v1/status",
        "/v1/tasks/registered",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/pause",
        "/v1/jobs/{job_id}/resume",
        "/v1/schedules/preview",
        "/v1/jobs/{job_id}/trigger",
        "/v1/jobs/{job_id}/runs",
        "/v1/tasks",
        "/v1/tasks/{run_id}",
        "/v1/tasks/{run_id}/messages",
        "/v1/tasks/{run_id}/retry",
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/signing-secret",
        "/v1/signing-secret/rotate",
        "/v1/allowed-hosts",
    }
    post = document["paths"]["/v1/jobs"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/JobIn")
    assert "201" in post["responses"]


def test_updating_other_fields_keeps_an_intervals_phase_and_a_relative_due_time(client, scheduler):
    interval = create(client, name="iv", schedule=None, interval={"every": 7, "period": "minutes"})
    patched = send(client, "PATCH", f"/v1/jobs/{interval['id']}", {"description": "x"}).json_body
    assert patched["spec"] == interval["spec"]
    assert patched["next_run_at"] == interval["next_run_at"]
    due = create(client, name="due", schedule=None, due_time="2h")
    again = send(client, "PUT", f"/v1/jobs/{due['id']}", due).json_body
    assert again["next_run_at"] == due["next_run_at"]
    assert again["due_time"] == "2h"


@pytest.mark.parametrize("job_id", ["x" * 27, "x" * 2000, "..", "01M82CMAVR19122WS5YMX6510H"])
def test_ids_that_cannot_exist_are_404s(client, job_id):
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 404
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 404


def test_cron_tz_prefix_sets_the_job_zone_and_survives_updates(client, scheduler):
    job = create(client, schedule="CRON_TZ=Europe/Paris 0 0 9 * * *")
    assert job["timezone"] == "Europe/Paris"
    again = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"description": "d"})
    assert again.status_code == 200, again.json_body
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert got["ScheduleExpression"] == "cron(0 9 * * ? *)"
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"


def test_patch_cannot_null_a_required_field(client):
    job = create(client)
    for field in ("name", "task", "enabled", "args"):
        response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {field: None})
        assert response.status_code == 400, field
        assert response.json_body["error"]["details"]["field"] == field


def test_patch_clearing_an_optional_schedule_field(client, scheduler):
    job = create(client, schedule="@hourly", repeats=3, end_at="2099-01-01T00:00:00Z")
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"end_at": None, "repeats": None})
    assert response.status_code == 200
    assert response.json_body["end_at"] is None
    assert response.json_body["repeats"] is None
    (got,) = schedules_of(scheduler, job["id"]).values()
    assert "EndDate" not in got


def test_changing_repeats_keeps_a_relative_due_time(client):
    job = create(client, schedule="@hourly", due_time="3h")
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"repeats": 4})
    assert response.json_body["next_run_at"] == job["next_run_at"]
    assert response.json_body["due_time"] == "3h"


def test_the_patch_schema_carries_no_defaults():
    """A client generated from the document sends every default it is given on every PATCH
    (issue 13, item 7): a patch schema has none, at any of its properties."""
    from chalicelib.api.openapi import document

    patch = document("native")["components"]["schemas"]["JobPatch"]
    assert [name for name, prop in patch["properties"].items() if "default" in prop] == []
    assert "required" not in patch
    assert document("native")["components"]["schemas"]["JobIn"]["properties"]["enabled"] == {
        "default": True,
        "title": "Enabled",
        "type": "boolean",
    }  # a create keeps its defaults


def test_patching_only_the_schedule_of_a_paused_job_changes_only_the_schedule(client, scheduler):
    job = create(client, description="keep me", timeout_seconds=60, overlap="skip")
    send(client, "POST", f"/v1/jobs/{job['id']}/pause")
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"schedule": "0 3 * * *"})
    assert response.status_code == 200, response.json_body
    got = client.get(f"/v1/jobs/{job['id']}").json_body
    assert (got["schedule"], got["enabled"], got["next_run_at"]) == ("0 3 * * *", False, None)
    assert (got["description"], got["timeout_seconds"], got["overlap"]) == ("keep me", 60, "skip")
    (schedule,) = schedules_of(scheduler, job["id"]).values()
    assert schedule["State"] == "DISABLED"
