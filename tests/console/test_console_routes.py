"""The console's files as the app serves them: public, typed, cached by ETag, framed by nobody,
and nothing outside ``static/`` (issue 18)."""

from __future__ import annotations

import re

import pytest

from chalicelib.console import STATIC

PAGE_LIMIT = 100 * 1024


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/icon.svg", "image/svg+xml"),
        ("/docs", "text/html; charset=utf-8"),
    ],
)
def test_console_files_are_public_typed_and_unframeable(client, path, content_type):
    response = client.as_key(None).get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"


def test_an_unchanged_file_is_a_304_without_a_body(client):
    first = client.as_key(None).get("/console/app.js")
    etag = first.headers["ETag"]
    again = client.as_key(None).get("/console/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.body == b""


@pytest.mark.parametrize("name", ["nope.js", ".hidden.js", "..%2F__init__.py", "__init__.py"])
def test_anything_but_a_console_file_is_a_json_404(client, name):
    response = client.as_key(None).get(f"/console/{name}")
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/", "/console"])
def test_the_root_and_the_bare_console_path_redirect_to_the_console(client, path):
    response = client.as_key(None).get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


class LambdaContext:
    aws_request_id = "test"
    function_name = "api"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
    log_group_name = log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.mark.parametrize(
    ("requested", "resource", "location"),
    [
        ("/api", "/", "/api/console/"),
        ("/api/", "/", "/api/console/"),
        ("/api/console", "/console", "/api/console/"),
    ],
)
def test_a_redirect_keeps_the_stage_prefix_of_a_deployed_api(aws, requested, resource, location):
    """API Gateway's event has the stage in ``requestContext.path`` only: a redirect keeps it."""
    from app import app

    event = {
        "resource": resource,
        "path": resource,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": "GET",
            "path": requested,
            "stage": "api",
        },
        "body": None,
        "isBase64Encoded": False,
    }
    answer = app(event, LambdaContext())
    assert (answer["statusCode"], answer["headers"]["Location"]) == (302, location)


def test_the_console_needs_no_inline_script_and_no_other_origin():
    for path in STATIC.iterdir():
        text = path.read_text()
        if path.suffix == ".html":
            scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, re.S)
            assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
            assert not re.search(r"<[^>]+\son\w+=", text), path.name  # no inline handlers
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"


def test_the_whole_console_weighs_under_100_kb():
    assert sum(path.stat().st_size for path in STATIC.iterdir()) < PAGE_LIMIT
