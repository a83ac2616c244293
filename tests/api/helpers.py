"""Small helpers for tests that go through the HTTP surface."""

from __future__ import annotations

import json
from typing import Any

JSON = {"Content-Type": "application/json"}


def send(http: Any, method: str, path: str, body: Any = None, **headers: str) -> Any:
    raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    return http.request(method, path, headers={**JSON, **headers}, body=raw or b"")


def job_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "nightly-report", "task": "echo", "schedule": "0 2 * * *"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create(http: Any, **overrides: Any) -> dict[str, Any]:
    response = send(http, "POST", "/v1/jobs", job_body(**overrides))
    assert response.status_code == 201, response.json_body
    return response.json_body


def submit_task(http: Any, **body: Any) -> dict[str, Any]:
    """POST /v1/tasks; the run as answered (202)."""
    response = send(http, "POST", "/v1/tasks", body)
    assert response.status_code == 202, response.json_body
    return response.json_body


def get_task(http: Any, run_id: str) -> dict[str, Any]:
    return http.get(f"/v1/tasks/{run_id}").json_body
