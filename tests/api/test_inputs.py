"""Inputs that used to be accepted and should not be (issue 13, item 6), through each face's HTTP
surface: blank job names, undeclared query parameters, task arguments that cannot bind."""

from __future__ import annotations

import re
import sys

import pytest

from chalicelib.api import models
from chalicelib.api.openapi import document
from chalicelib.api.routing import ROUTES
from tests.api.helpers import create, job_body, send

UDATA = "/api/1/workers"
CRON = {"minute": "0", "hour": "0"}
BLANK_OR_PADDED = ["", " ", "   ", "\u3000", "\xa0", " nightly", "nightly ", "\u2003x"]


def field_of(response) -> str:
    return response.json_body["error"]["details"]["field"]


# -- blank names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BLANK_OR_PADDED)
def test_native_create_refuses_blank_and_padded_names(client, name):
    response = send(client, "POST", "/v1/jobs", job_body(name=name))
    assert response.status_code == 400, response.json_body
    assert field_of(response) == "name"
    assert "whitespace" in response.json_body["error"]["message"] or name == ""
    assert client.get("/v1/jobs").json_body["items"] == []


@pytest.mark.parametrize("name", [" ", " nightly", "nightly\u3000"])
def test_native_put_and_patch_refuse_blank_and_padded_names(client, name):
    job = create(client)
    for method, body in (("PUT", job_body(name=name)), ("PATCH", {"name": name})):
        response = send(client, method, f"/v1/jobs/{job['id']}", body)
        assert response.status_code == 400, (method, response.json_body)
        assert field_of(response) == "name"
    assert client.get(f"/v1/jobs/{job['id']}").json_body["name"] == job["name"]


@pytest.mark.parametrize("name", ["a", "nightly report", "rapport été", "x" * 200, "a  b"])
def test_native_names_with_inner_spaces_and_letters_are_fine(client, name):
    assert create(client, name=name)["name"] == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("a/b", "/ \\ # ?"), ("a#b", "/ \\ # ?"), ("a\tb", "control"), ("x" * 201, "200")],
)
def test_native_name_rules_name_the_rule(client, name, fragment):
    response = send(client, "POST", "/v1/jobs", job_body(name=name))
    assert response.status_code == 400
    assert field_of(response) == "name"
    assert fragment in response.json_body["error"]["details"]["rule"]


@pytest.mark.parametrize("name", [" ", "\u3000", " padded", "padded "])
def test_udata_refuses_blank_and_padded_names_in_its_shape(client, name):
    body = {"name": name, "task": "echo", "crontab": CRON}
    response = send(client, "POST", f"{UDATA}/jobs/", body)
    assert response.status_code == 400, response.json_body
    assert set(response.json_body["errors"]) == {"name"}
    assert client.get(f"{UDATA}/jobs/").json_body == []


def test_udata_keeps_its_own_name_characters(client):
    """udata never restricted a name's characters (a harvest source's "A/B" is a name): only
    blank and padded names are refused there."""
    body = {"name": "Harvest A/B #2", "task": "echo", "crontab": CRON}
    response = send(client, "POST", f"{UDATA}/jobs/", body)
    assert response.status_code == 201, response.json_body


def test_the_documented_name_pattern_says_what_the_validator_does():
    """The OpenAPI pattern (read by clients and schemathesis) and the Python rule agree."""
    pattern = re.compile(
        document("native")["components"]["schemas"]["JobIn"]["properties"]["name"]["pattern"]
    )
    samples = [
        *BLANK_OR_PADDED,
        "a",
        "a b",
        "a/b",
        "a\\b",
        "a?",
        "#",
        "é",
        "a\x7fb",
        "\x1fa",
        "a\u2028",
        "\u205fa",
        "\ufeffa",  # a BOM is not whitespace to Python: allowed on both sides
        "日本",
    ]
    for sample in samples:
        assert bool(pattern.search(sample)) == (models.name_rule(sample) is None), repr(sample)


def test_the_documented_udata_name_pattern_says_what_the_validator_does():
    schema = document("udata")["components"]["schemas"]["UdataJobIn"]["properties"]["name"]
    (string,) = [s for s in schema["anyOf"] if s.get("type") == "string"]
    pattern = re.compile(string["pattern"])
    samples = [*BLANK_OR_PADDED, "a", "a/b #?", "a\tb", "\ta", "a\x1f", "\x00", "\ufeff", "日 本"]
    for sample in samples:
        assert bool(pattern.search(sample)) == (models.padding_rule(sample) is None), repr(sample)


def test_whitespace_the_rule_knows_is_pythons():
    every = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert every == set(models.WHITESPACE)


# -- undeclared query parameters ------------------------------------------------------------


def test_native_unknown_query_parameter_is_a_400_naming_it(client):
    create(client, name="one")
    response = client.get("/v1/jobs?nmae=one")
    assert response.status_code == 400, response.json_body
    assert field_of(response) == "nmae"
    assert "not a query parameter" in response.json_body["error"]["details"]["rule"]
    assert "name" in response.json_body["error"]["details"]["rule"]  # what it does take


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/status?verbose=1"),
        ("GET", "/v1/jobs/{id}?expand=runs"),
        ("POST", "/v1/jobs/{id}/pause?now=true"),
        ("GET", "/v1/jobs/{id}/runs?job_id={id}"),  # the path says which job
        ("GET", "/v1/tasks/registered?limit=5"),
        ("GET", "/v1/jobs?_=1700000000000"),  # a cache-buster is refused like any other
    ],
)
def test_native_operations_refuse_parameters_they_do_not_take(client, method, path):
    job = create(client)
    response = send(client, method, path.format(id=job["id"]))
    assert response.status_code == 400, response.json_body
    assert field_of(response) in path
    assert client.get(f"/v1/jobs/{job['id']}").json_body["enabled"] is True  # nothing happened


def test_udata_unknown_query_parameter_is_a_400_in_udatas_shape(client):
    response = client.get(f"{UDATA}/jobs/?page_size=5")
    assert response.status_code == 400
    assert set(response.json_body) == {"message", "errors"}
    assert set(response.json_body["errors"]) == {"page_size"}


def test_udata_accepts_lang_as_udata_does(client):
    """udata reads ``?lang=`` on every API call (set_api_language); its clients send it."""
    send(client, "POST", f"{UDATA}/jobs/", {"name": "j", "task": "echo", "crontab": CRON})
    assert len(client.get(f"{UDATA}/jobs/?lang=fr").json_body) == 1
    assert client.get(f"{UDATA}/jobs/schedulables?lang=en").status_code == 200


def test_dapr_unknown_query_parameter_is_a_400_in_daprs_shape(client):
    send(client, "POST", "/v1.0/jobs/d", {"schedule": "@daily"})
    response = client.get("/v1.0/jobs/d?metadata.ttlInSeconds=5")
    assert response.status_code == 400
    assert set(response.json_body) == {"errorCode", "message", "details"}  # Dapr's ErrorInfo
    assert "is not a query parameter" in response.json_body["message"]
    assert response.json_body["details"][0]["metadata"] == {"field": "metadata.ttlInSeconds"}


def test_alteryx_unknown_query_parameter_is_a_400_and_includemessages_still_works(client):
    workflow = create(client)
    run = send(client, "POST", f"/webapi/v3/workflows/{workflow['id']}/jobs", {}).json_body
    assert client.get(f"/webapi/v3/jobs/{run['id']}?includeMessages=false").status_code == 200
    response = client.get(f"/webapi/v3/workflows/{workflow['id']}/jobs?resultcode=Error")
    assert response.status_code == 400
    assert set(response.json_body) == {"message"}
    assert "resultcode" in response.json_body["message"]


def test_vitam_unknown_query_parameter_is_a_400_in_vitams_shape(client):
    headers = {"X-Tenant-Id": "default"}
    assert client.get("/vitam/v1/tasks?query=name%3D%27x*%27", headers=headers).status_code == 200
    response = client.get("/vitam/v1/tasks?limit=5", headers=headers)
    assert response.status_code == 400
    assert response.json_body["http_code"] == 400
    assert "limit" in response.json_body["message"]
    assert response.headers["X-Request-Id"]


def test_every_declared_query_parameter_is_documented():
    """The list a request is checked against is the one in the OpenAPI documents."""
    for doc in ROUTES:
        operation = document(doc.face)["paths"][doc.path][doc.method.lower()]
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert documented == {q.name for q in doc.query if q.location == "query"}, doc.path


# -- filters users obviously mean -----------------------------------------------------------


def test_jobs_filter_by_name_prefix(client):
    ids = {name: create(client, name=name)["id"] for name in ("report-a", "report-b", "other")}
    names = [j["name"] for j in client.get("/v1/jobs?name=report-").json_body["items"]]
    assert names == ["report-a", "report-b"]
    assert client.get("/v1/jobs?name=report-b").json_body["items"][0]["id"] == ids["report-b"]
    assert client.get("/v1/jobs?name=Report").json_body["items"] == []  # case-sensitive
    page = client.get("/v1/jobs?name=report&limit=1").json_body
    rest = client.get(f"/v1/jobs?name=report&limit=1&cursor={page['cursor']}").json_body
    assert [j["name"] for j in page["items"] + rest["items"]] == ["report-a", "report-b"]


def test_runs_filter_by_time_range_on_queued_at(client):
    first = send(client, "POST", "/v1/tasks", {"task": "echo"}).json_body
    second = send(client, "POST", "/v1/tasks", {"task": "echo"}).json_body
    at = second["queued_at"]

    def ids(query: str) -> list[str]:
        response = client.get(f"/v1/tasks?{query}")
        assert response.status_code == 200, response.json_body
        return [r["id"] for r in response.json_body["items"]]

    both = [second["id"], first["id"]]
    assert ids("since=2000-01-01T00:00:00Z") == both
    # queued_at is shown to the second: the first run is in the range if shown at the same one
    assert ids(f"since={at}") == (both if first["queued_at"] == at else [second["id"]])
    assert ids(f"until={at}") == ([] if first["queued_at"] == at else [first["id"]])
    assert ids("until=2000-01-01T00:00:00Z") == []
    assert ids("since=2000-01-01T00:00:00Z&until=2190-01-01T00:00:00%2B02:00") == both
    assert ids("until=2190-01-01T00:00:00+02:00") == both  # a + sent unencoded reads as a space
    job = create(client)
    trigger = send(client, "POST", f"/v1/jobs/{job['id']}/trigger").json_body
    runs = client.get(f"/v1/jobs/{job['id']}/runs?since=2000-01-01T00:00:00Z").json_body
    assert [r["id"] for r in runs["items"]] == [trigger["id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("until=2030-01-01", "until"),  # no time, no offset: not RFC 3339
        ("until=2030-01-01T00:00:00", "until"),  # no offset
        ("since=", "since"),
        ("since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "until"),
    ],
)
def test_bad_time_ranges_are_400s(client, query, field):
    response = client.get(f"/v1/tasks?{query}")
    assert response.status_code == 400, response.json_body
    assert field_of(response) == field


# -- task arguments that cannot bind --------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"task": "sleep", "args": [1, 2]}, "args", "too many positional arguments"),
        ({"task": "sleep", "kwargs": {"secs": 1}}, "kwargs", "unexpected keyword argument 'secs'"),
        ({"task": "sleep", "args": [1], "kwargs": {"seconds": 2}}, "kwargs", "multiple values"),
        ({"task": "tests.flaky", "kwargs": {"key": "k"}}, "kwargs", "'failures'"),
        ({"task": "tests.flaky"}, "args", "missing a required argument: 'key'"),
    ],
)
def test_job_args_that_cannot_bind_are_400s_at_creation(client, overrides, field, fragment):
    response = send(client, "POST", "/v1/jobs", job_body(**overrides))
    assert response.status_code == 400, response.json_body
    assert field_of(response) == field
    assert fragment in response.json_body["error"]["details"]["rule"]
    assert client.get("/v1/jobs").json_body["items"] == []


def test_job_args_that_bind_are_fine(client):
    create(client, name="a", task="sleep", args=[0.1])
    create(client, name="b", task="sleep", kwargs={"seconds": 0.1})
    create(client, name="c", task="echo", args=[1, 2, 3], kwargs={"anything": True})
    create(client, name="d", task="tests.flaky", args=["k"], kwargs={"failures": 1})


def test_patch_and_put_check_the_arguments_against_the_task_they_leave(client):
    job = create(client, task="echo", args=[1, 2])
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"task": "sleep"})
    assert response.status_code == 400, response.json_body
    assert field_of(response) == "args"  # sleep takes one: the job's two args cannot follow
    response = send(client, "PATCH", f"/v1/jobs/{job['id']}", {"task": "sleep", "args": [1]})
    assert response.status_code == 200, response.json_body
    response = send(client, "PUT", f"/v1/jobs/{job['id']}", job_body(task="sleep", kwargs={"x": 1}))
    assert response.status_code == 400
    assert field_of(response) == "kwargs"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "sleep", "args": [1, 2]}, "args"),
        ({"task": "fail", "kwargs": {"msg": "x"}}, "kwargs"),
        (
            {"steps": [{"task": "echo"}, {"task": "tests.add", "kwargs": {"m": 1}}]},
            "steps.1.kwargs",
        ),
        ({"steps": [{"task": "tests.add", "args": [1, 2]}]}, "steps.0.args"),
    ],
)
def test_adhoc_run_args_that_cannot_bind_are_400s(client, body, field):
    response = send(client, "POST", "/v1/tasks", body)
    assert response.status_code == 400, response.json_body
    assert field_of(response) == field
    assert client.get("/v1/tasks").json_body["items"] == []


def test_udata_job_args_that_cannot_bind_are_400s_in_udatas_shape(client):
    body = {"name": "j", "task": "sleep", "args": [1, 2, 3], "crontab": CRON}
    response = send(client, "POST", f"{UDATA}/jobs/", body)
    assert response.status_code == 400, response.json_body
    assert set(response.json_body["errors"]) == {"args"}
    assert "too many positional arguments" in response.json_body["errors"]["args"]


def test_vitam_action_arguments_that_cannot_bind_are_400s(client):
    step = {"Step": "s", "actions": [{"action": "tests.add", "arguments": {"nn": 1}}]}
    response = send(client, "POST", "/vitam/v1/tasks", step, **{"X-Tenant-Id": "default"})
    assert response.status_code == 400, response.json_body
    assert "unexpected keyword argument 'nn'" in response.json_body["message"]
