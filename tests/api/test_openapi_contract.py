"""What a client generator needs from each face's OpenAPI document (issue 20): JSON Schema
keywords only, instants as ``date-time``, read models that reuse the input schemas, tags and
readable operation ids, the responses each operation can really give, required bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

import app  # noqa: F401  (registers every face's routes)
from chalicelib.api.openapi import FACES, document
from chalicelib.api.routing import ROUTES

#: Pydantic's names for bounds, which JSON Schema ignores (so a generated model would too).
NOT_JSON_SCHEMA = {"ge", "le", "gt", "lt", "min_length", "max_length", "multiple_of"}


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{path}/{index}")


def _operations(face: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document(face)["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


@pytest.mark.parametrize("face", FACES)
def test_every_document_is_valid_with_tags_servers_and_unique_readable_ids(face):
    doc = document(face)
    validate(doc)
    assert doc["servers"] == [{"url": "/", "description": doc["servers"][0]["description"]}]
    ids = [operation["operationId"] for _, _, operation in _operations(face)]
    assert len(ids) == len(set(ids))
    assert all(i.isalnum() and i[0].islower() for i in ids), ids  # pauseJob, not post_v1_…
    tags = {t["name"] for t in doc["tags"]}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in tags for _, _, op in _operations(face))


@pytest.mark.parametrize("face", FACES)
def test_bounds_are_json_schema_keywords_even_inside_any_of(face):
    misnamed = [
        f"{path}/{key}"
        for path, node in _nodes(document(face)["components"]["schemas"])
        for key in NOT_JSON_SCHEMA & set(node)
        if not path.endswith("/properties")
    ]
    assert misnamed == []


def test_optional_bounded_fields_say_minimum_and_maximum():
    schemas = document("native")["components"]["schemas"]
    assert schemas["JobIn"]["properties"]["repeats"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 1,
    }
    assert schemas["TaskIn"]["properties"]["delay_seconds"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 900,
    }


@pytest.mark.parametrize(
    ("face", "model", "fields"),
    [
        ("native", "JobOut", ["created_at", "updated_at", "next_run_at", "finished_at"]),
        ("native", "RunOut", ["queued_at", "started_at", "ended_at", "retry_at"]),
        ("native", "AttemptOut", ["started_at", "ended_at"]),
        ("native", "MessageOut", ["at"]),
        ("native", "KeyOut", ["created_at"]),
        ("native", "StatusOut", ["startDate"]),
        ("udata", "UdataJobOut", ["last_run_at"]),
        ("alteryx", "JobOut", ["createDateTime"]),
        ("alteryx", "WorkflowOut", ["dateCreated"]),
        ("alteryx", "JobSummaryOut", ["startTime", "queueTime"]),
        ("vitam", "TaskOut", ["start_date", "end_date", "expiration_date"]),
        ("vitam", "StatusOut", ["startDate"]),
    ],
)
def test_instants_the_faces_answer_are_date_times(face, model, fields):
    properties = document(face)["components"]["schemas"][model]["properties"]
    for name in fields:
        assert '"format": "date-time"' in json.dumps(properties[name]), (model, name)


def test_read_models_reuse_the_input_schemas_and_vocabularies():
    schemas = document("native")["components"]["schemas"]
    job = schemas["JobOut"]["properties"]
    refs = {name: json.dumps(job[name]) for name in ("crontab", "interval", "retry")}
    assert all(
        f"/{model}" in refs[name]
        for name, model in [
            ("crontab", "Crontab"),
            ("interval", "Interval"),
            ("retry", "RetryPolicy"),
        ]
    )
    for model in ("JobIn", "JobOut"):
        assert "/Overlap" in json.dumps(schemas[model]["properties"]["overlap"])
        assert "/Queue" in json.dumps(schemas[model]["properties"]["queue"])
    assert "/RunStatus" in json.dumps(schemas["RunOut"]["properties"]["status"])


def test_a_request_body_is_required_unless_no_body_is_a_valid_request():
    """No body is taken as ``{}``: a PATCH that changes nothing, a key with the defaults, a
    udata PUT that keeps every field, an Alteryx run without questions. Elsewhere a missing body
    is a 400, and the document says the body is required."""
    optional = {
        (face, method, path)
        for face in FACES
        for method, path, operation in _operations(face)
        if "requestBody" in operation and not operation["requestBody"]["required"]
    }
    assert optional == {
        ("native", "PATCH", "/v1/jobs/{job_id}"),
        ("native", "POST", "/v1/keys"),
        ("udata", "PUT", "/api/1/workers/jobs/{job_id}"),
        ("alteryx", "POST", "/webapi/v3/workflows/{workflow_id}/jobs"),
    }
    required = [
        path
        for face in FACES
        for _, path, operation in _operations(face)
        if operation.get("requestBody", {}).get("required")
    ]
    assert {"/v1/jobs", "/v1/tasks", "/v1/schedules/preview", "/webapi/oauth2/token"} <= set(
        required
    )


def test_what_a_user_key_can_be_refused_documents_a_403_in_the_faces_error_shape():
    refusable = {
        ("native", "PUT", "/v1/jobs/{job_id}"),
        ("native", "PATCH", "/v1/jobs/{job_id}"),
        ("native", "DELETE", "/v1/jobs/{job_id}"),
        ("native", "POST", "/v1/jobs/{job_id}/pause"),
        ("native", "POST", "/v1/jobs/{job_id}/resume"),
        ("native", "DELETE", "/v1/tasks/{run_id}"),
        ("native", "POST", "/v1/tasks/{run_id}/retry"),
        ("dapr", "POST", "/v1.0/jobs/{name}"),
        ("dapr", "DELETE", "/v1.0/jobs/{name}"),
        ("vitam", "PUT", "/worker/v1/tasks/{id_async}"),
    }
    for face, method, path in refusable:
        forbidden = document(face)["paths"][path][method.lower()]["responses"]["403"]
        error = forbidden["content"]["application/json"]["schema"]["$ref"]
        assert error.endswith(
            {"native": "/ErrorOut", "dapr": "/DaprErrorOut", "vitam": "/VitamErrorOut"}[face]
        )
    user_routes = [r for r in ROUTES if r.access == "user" and not r.owned]
    assert user_routes
    for route in user_routes:
        operation = document(route.face)["paths"][route.path][route.method.lower()]
        assert "403" not in operation["responses"], (route.face, route.method, route.path)


def test_reads_and_the_public_status_list_no_conflict():
    status = document("native")["paths"]["/v1/status"]["get"]["responses"]
    assert set(status) == {"200", "400", "503"}
    for face in FACES:
        for method, path, operation in _operations(face):
            if method == "GET":
                assert "409" not in operation["responses"], (face, path)


def test_the_oauth2_token_request_is_documented_as_a_form():
    operation = document("alteryx")["paths"]["/webapi/oauth2/token"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    token_in = document("alteryx")["components"]["schemas"][form["$ref"].rsplit("/", 1)[-1]]
    assert token_in["required"] == ["grant_type"]
    assert token_in["properties"]["grant_type"]["const"] == "client_credentials"


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/tasks", "/v1/schedules/preview"])
def test_a_required_body_left_out_is_a_400(client, path):
    assert client.post(path).status_code == 400


def test_an_optional_body_left_out_is_a_valid_request(client):
    key = client.post("/v1/keys")
    assert key.status_code == 201, key.json_body
    assert key.json_body["role"] == "user"
