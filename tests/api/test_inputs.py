"""Inputs that used to be accepted and should not be (issue 13, item 6), through each face's HTTP
surface: blank job names, undeclared query parameters, task arguments that cannot bind."""

from __future__ import annotations

import re
import sys

import pytest

from chalicelib.api import models
from chalicelib.api.openapi import document
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
