"""Contract tests of the udata workers face: every route of the seed, success and errors."""

from __future__ import annotations

import json

import pytest

from app import worker
from tests.api.helpers import send
from tests.conftest import drain

BASE = "/api/1/workers"
CRON_JOB = {
    "name": "A crontab job",
    "description": "d",
    "task": "echo",
    "crontab": {"minute": "0", "hour": "0"},
}


def post_job(client, body=None, **headers):
    return send(client, "POST", f"{BASE}/jobs/", body or CRON_JOB, **headers)


def test_create_crontab_job_answers_udatas_shape(client):
    response = post_job(client)
    assert response.status_code == 201
    job = response.json_body
    assert set(job) == {
        "id",
        "name",
        "description",
        "task",
        "crontab",
        "interval",
        "args",
        "kwargs",
        "schedule",
        "last_run_at",
        "last_run_id",
        "enabled",
    }
    assert job["crontab"] == {
        "minute": "0",
        "hour": "0",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
    }
    assert (job["interval"], job["args"], job["kwargs"]) == (None, [], {})
    assert (job["schedule"], job["enabled"], job["last_run_at"]) == ("0 0 * * *", False, None)


@pytest.mark.parametrize(
    ("interval", "schedule"),
    [
        ({"every": 5, "period": "minutes"}, "every 5 minutes"),
        ({"every": 1, "period": "days"}, "every day"),
    ],
)
def test_create_interval_job_renders_like_udata(client, interval, schedule):
    body = {"name": "iv", "task": "echo", "interval": interval, "enabled": True}
    job = post_job(client, body).json_body
    assert (job["schedule"], job["crontab"], job["enabled"]) == (schedule, None, True)
    assert job["interval"] == interval


def test_args_and_kwargs_are_kept(client):
    job = post_job(client, {**CRON_JOB, "args": [1], "kwargs": {"a": "b"}}).json_body
    assert (job["args"], job["kwargs"]) == ([1], {"a": "b"})


def test_routes_answer_with_and_without_trailing_slash(client):
    job = post_job(client).json_body
    for path in (
        f"{BASE}/jobs",
        f"{BASE}/jobs/",
        f"{BASE}/jobs/{job['id']}",
        f"{BASE}/jobs/{job['id']}/",
        f"{BASE}/jobs/schedulables",
        f"{BASE}/jobs/schedulables/",
    ):
        assert client.get(path).status_code == 200, path


def test_list_get_schedulables(client):
    job = post_job(client).json_body
    assert [j["id"] for j in client.get(f"{BASE}/jobs/").json_body] == [job["id"]]
    assert client.get(f"{BASE}/jobs/{job['id']}/").json_body == job
    names = client.get(f"{BASE}/jobs/schedulables/").json_body
    assert {"echo", "sleep", "fail"} <= set(names)


def test_put_replaces_the_schedule_and_keeps_omitted_fields(client):
    job = post_job(client, {**CRON_JOB, "args": [1]}).json_body
    response = send(
        client,
        "PUT",
        f"{BASE}/jobs/{job['id']}/",
        {"interval": {"every": 2, "period": "hours"}, "enabled": True},
    )
    assert response.status_code == 200
    updated = response.json_body
    assert (updated["crontab"], updated["interval"]) == (None, {"every": 2, "period": "hours"})
    assert (updated["name"], updated["description"], updated["args"]) == ("A crontab job", "d", [1])
    assert (updated["schedule"], updated["enabled"]) == ("every 2 hours", True)
    back = send(client, "PUT", f"{BASE}/jobs/{job['id']}/", {"crontab": {"minute": "5"}}).json_body
    assert (back["schedule"], back["interval"]) == ("5 * * * *", None)


def test_delete_is_204_with_an_empty_body(client):
    job = post_job(client).json_body
    response = client.delete(f"{BASE}/jobs/{job['id']}/")
    assert (response.status_code, response.body) == (204, b"")
    assert client.get(f"{BASE}/jobs/{job['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {**CRON_JOB, "interval": {"every": 1, "period": "days"}},
            "Cannot define both interval and crontab schedule",
        ),
        ({**CRON_JOB, "interval": None}, "Cannot define both interval and crontab schedule"),
        ({"name": "x", "task": "echo"}, "Must defined either interval or crontab schedule."),
        ({"task": "echo", "crontab": {"minute": "0"}}, "This field is required."),
        ({**CRON_JOB, "crontab": {"minute": "banana"}}, "not a number or a known name"),
        ({**CRON_JOB, "task": "not-registered"}, "not a registered task"),
        (
            {"name": "i", "task": "echo", "interval": {"every": 1, "period": "fortnights"}},
            "must be one of",
        ),
        (
            {"name": "i", "task": "echo", "interval": {"every": 0, "period": "days"}},
            "positive integer",
        ),
    ],
)
def test_invalid_jobs_are_400s_with_udatas_message(client, body, message):
    response = post_job(client, body)
    assert response.status_code == 400, response.json_body
    assert message in response.json_body["message"]
    form_wide = message.startswith(("Cannot", "Must"))  # udata's api.abort(400, message)
    assert bool(response.json_body.get("errors")) is not form_wide


def test_duplicate_name_is_a_409_not_a_500(client):
    post_job(client)
    response = post_job(client)
    assert response.status_code == 409
    assert "already exists" in response.json_body["message"]


def test_admin_only_with_x_api_key(client, new_key):
    user = new_key(role="user")
    assert client.as_key(None).get(f"{BASE}/jobs/", headers={"X-API-KEY": user}).status_code == 403
    body = client.as_key(None).get(f"{BASE}/jobs/", headers={"X-API-KEY": user}).json_body
    assert body == {"message": "this route needs an admin key"}
    response = client.as_key(None).get(f"{BASE}/jobs/")
    assert response.status_code == 401
    assert "message" in response.json_body
    admin = new_key(role="admin")
    assert client.as_key(None).get(f"{BASE}/jobs/", headers={"X-API-KEY": admin}).status_code == 200


def test_unknown_ids_are_404s(client):
    assert client.get(f"{BASE}/jobs/5f0000000000000000000000/").status_code == 404
    assert client.get(f"{BASE}/tasks/unknown-id/").status_code == 404
    assert send(client, "PUT", f"{BASE}/jobs/nope/", {"name": "x"}).status_code == 404
    assert client.delete(f"{BASE}/jobs/nope/").status_code == 404


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ("{name,task}", {"name": "A crontab job", "task": "echo"}),
        ("name,task", {"name": "A crontab job", "task": "echo"}),
        ("name,crontab{minute}", {"name": "A crontab job", "crontab": {"minute": "0"}}),
        ("{name,nope}", {"name": "A crontab job"}),
        ("interval{every}", {"interval": None}),
    ],
)
def test_x_fields_masks_single_items(client, mask, expected):
    job = post_job(client)
    got = client.get(f"{BASE}/jobs/{job.json_body['id']}/", headers={"X-Fields": mask}).json_body
    assert got == expected


def test_x_fields_star_and_lists(client):
    post_job(client)
    (item,) = client.get(f"{BASE}/jobs/", headers={"X-Fields": "crontab{hour},*"}).json_body
    assert item["crontab"] == {"hour": "0"}
    assert {"id", "name", "schedule"} <= set(item)
    listed = client.get(f"{BASE}/jobs/", headers={"X-Fields": "{name}"}).json_body
    assert listed == [{"name": "A crontab job"}]
    created = post_job(client, {**CRON_JOB, "name": "n2"}, **{"X-Fields": "{id}"}).json_body
    assert set(created) == {"id"}


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ("{name", "Missing closing bracket"),
        ("name{x}", "inconsistent with model"),
        ("name}", "Unexpected closing bracket"),
        (",name", "Unexpected comma"),
    ],
)
def test_bad_masks_are_400s(client, mask, message):
    job = post_job(client).json_body
    response = client.get(f"{BASE}/jobs/{job['id']}/", headers={"X-Fields": mask})
    assert response.status_code == 400
    assert message in response.json_body["message"]


def test_task_status_maps_run_states_to_celery_states(client):
    ok = send(client, "POST", "/v1/tasks", {"task": "echo", "args": [1]}).json_body
    bad = send(
        client, "POST", "/v1/tasks", {"task": "fail", "kwargs": {"message": "boom"}}
    ).json_body
    queued = send(client, "POST", "/v1/tasks", {"task": "echo", "delay_seconds": 600}).json_body
    drain()
    assert client.get(f"{BASE}/tasks/{ok['id']}/").json_body == {
        "id": ok["id"],
        "status": "SUCCESS",
        "result": "{'args': [1], 'kwargs': {}}",
        "exc": None,
        "traceback": None,
    }
    failure = client.get(f"{BASE}/tasks/{bad['id']}/").json_body
    assert (failure["status"], failure["exc"], failure["result"]) == (
        "FAILURE",
        "chalicelib.tasks.builtin.TaskFailed",
        "TaskFailed('boom')",
    )
    assert "Traceback" in failure["traceback"]
    assert client.get(f"{BASE}/tasks/{queued['id']}/").json_body["status"] == "PENDING"
    client.delete(f"/v1/tasks/{queued['id']}")
    assert client.get(f"{BASE}/tasks/{queued['id']}/").json_body["status"] == "REVOKED"


def test_a_timed_out_task_is_a_failure_that_says_why(client):
    """A TIMED_OUT run has no exception of its own: its reason is the FAILURE's result, as
    Celery's TimeLimitExceeded would be, rather than null."""
    slow = {"task": "sleep", "kwargs": {"seconds": 1.5}, "timeout_seconds": 1}
    run = send(client, "POST", "/v1/tasks", slow).json_body
    drain()
    got = client.get(f"{BASE}/tasks/{run['id']}/").json_body
    assert (got["status"], got["exc"]) == ("FAILURE", "celery.exceptions.TimeLimitExceeded")
    assert "timeout" in got["result"]


def test_a_udata_job_is_a_normal_job_that_fires(client):
    job = post_job(client, {**CRON_JOB, "enabled": True}).json_body
    assert client.get(f"/v1/jobs/{job['id']}").json_body["expressions"] == ["cron(0 0 * * ? *)"]
    answer = worker(
        {"job_id": job["id"], "tenant": "default", "scheduled_time": "2030-01-01T00:00:00Z"}, None
    )
    assert answer["status"] == "SUCCEEDED"
    fired = client.get(f"{BASE}/jobs/{job['id']}/").json_body
    assert fired["last_run_id"] == answer["run_id"]
    assert fired["last_run_at"] == "2030-01-01T00:00:00+00:00"
    assert client.get(f"{BASE}/tasks/{answer['run_id']}/").json_body["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"task": "echo", "crontab": {"minute": "0"}}, {"name": ["This field is required."]}),
        (
            {"name": "i", "task": "echo", "interval": {"every": "x", "period": "days"}},
            {"interval": {"every": ["Input should be a valid integer"]}},
        ),
    ],
)
def test_field_errors_are_udatas_lists_per_field(client, body, errors):
    """wtforms' ``form.errors``: a list of messages per field, nested under a form field."""
    response = post_job(client, body)
    assert response.status_code == 400
    got = response.json_body["errors"]
    assert got.keys() == errors.keys()
    for field, expected in errors.items():
        if isinstance(expected, dict):
            assert got[field].keys() == expected.keys()
            assert all(expected[k][0] in got[field][k][0] for k in expected)
        else:
            assert got[field] == expected
    assert response.json_body["message"]


def test_form_wide_errors_are_a_bare_message(client):
    both = {**CRON_JOB, "interval": {"every": 1, "period": "days"}}
    assert post_job(client, both).json_body == {
        "message": "Cannot define both interval and crontab schedule"
    }
    job = post_job(client).json_body
    response = send(client, "PUT", f"{BASE}/jobs/{job['id']}/", both)
    assert response.json_body == {"message": "Cannot define both interval and crontab schedule"}


@pytest.mark.parametrize("field", ["crontab", "interval"])
def test_put_takes_a_schedule_sent_as_a_json_string(client, field):
    """udata's test_update_job sends ``task.crontab.to_json()``: a JSON string."""
    job = post_job(client).json_body
    value = {"minute": "7"} if field == "crontab" else {"every": 3, "period": "hours"}
    response = send(client, "PUT", f"{BASE}/jobs/{job['id']}/", {field: json.dumps(value)})
    assert response.status_code == 200, response.json_body
    assert response.json_body["schedule"] == (
        "7 * * * *" if field == "crontab" else "every 3 hours"
    )
    bad = send(client, "PUT", f"{BASE}/jobs/{job['id']}/", {field: "{not json"})
    assert bad.status_code == 400
    assert list(bad.json_body["errors"]) == [field]
    assert (
        client.get(f"{BASE}/jobs/{job['id']}/").json_body["schedule"]
        == response.json_body["schedule"]
    )


def test_unauthorized_bodies_are_udatas(client):
    """udata's ``authentify``: a bad X-API-KEY is 401 "Invalid API token"; no key at all is
    flask-restx's plain 401 (werkzeug's description)."""
    bad = client.as_key(None).get(f"{BASE}/jobs/", headers={"X-API-KEY": "bl_nope"})
    assert (bad.status_code, bad.json_body) == (401, {"message": "Invalid API token"})
    none = client.as_key(None).get(f"{BASE}/jobs/")
    assert none.status_code == 401
    assert none.json_body["message"].startswith(
        "The server could not verify that you are authorized"
    )


def test_exc_is_celerys_module_qualified_class_name(client):
    bad = send(client, "POST", "/v1/tasks", {"task": "fail", "kwargs": {"message": "boom"}})
    drain()
    failure = client.get(f"{BASE}/tasks/{bad.json_body['id']}/").json_body
    assert failure["exc"] == "chalicelib.tasks.builtin.TaskFailed"
    assert failure["result"] == "TaskFailed('boom')"
