"""Structured logs (issue 19): deployed, every line a function prints is JSON with the request
id, tenant, job id and run id; ``make run`` and the tests keep the human lines.

The deployed case runs the app in a fresh interpreter with ``AWS_LAMBDA_FUNCTION_NAME`` set (as
Lambda sets it), against moto: an API request, a scheduled fire, SQS deliveries of a task that
fails twice, through the Chalice handlers and their middleware, and parses its stdout."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib import logs

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = """
import json, os, sys
from datetime import UTC, datetime, timedelta
from moto import mock_aws

class Context:
    def __init__(self, request_id):
        self.aws_request_id = request_id
    def get_remaining_time_in_millis(self):
        return 900_000

with mock_aws():
    import app
    from chalice.test import Client
    from chalicelib import resources, services
    from chalicelib.settings import get_settings
    resources.provision(get_settings())
    services.keys().create("default", "admin", key="bl_k")
    headers = {"Authorization": "Bearer bl_k", "Content-Type": "application/json"}
    with Client(app.app) as client:
        retry = {"max_attempts": 2, "initial_seconds": 0}
        body = {"task": "fail", "args": ["boom"], "retry": retry}
        run = client.http.post("/v1/tasks", headers=headers, body=json.dumps(body)).json_body
        job = client.http.post(
            "/v1/jobs",
            headers=headers,
            body=json.dumps({"name": "nightly", "task": "echo", "schedule": "0 2 * * *"}),
        ).json_body
        client.http.get(f"/v1/tasks/{run['id']}", headers=headers)
        client.http.get("/v1/tasks/nope", headers=headers)
    when = (datetime.now(UTC) - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fire = {"job_id": job["id"], "tenant": "default", "schedule": "s", "scheduled_time": when}
    app.worker(fire, Context("fire-request"))
    sqs = services.queues().client
    url = services.queues().url("beatless-default")
    for n in range(3):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in got]
        if records:
            app.queue_default({"Records": records}, Context(f"sqs-request-{n}"))
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sys.stderr.write(json.dumps({"run": run["id"], "job": job["id"]}))
"""


def _scenario(extra_env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra_env,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ids = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout.splitlines(), ids


@pytest.fixture(scope="module")
def deployed() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every stdout line of the scenario run as in Lambda, parsed, and the ids it made."""
    lines, ids = _scenario({"AWS_LAMBDA_FUNCTION_NAME": "beatless-dev-worker"})
    return [json.loads(line) for line in lines], ids  # a line that is not JSON fails here


def _logs(parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in parsed if "_aws" not in line]


def test_deployed_every_log_line_is_json_with_the_four_ids(deployed):
    parsed, _ = deployed
    lines = _logs(parsed)
    assert len(lines) >= 7  # 4 requests, a fire's run, 2 attempts of a task
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= set(line), line
        assert {"request_id", "tenant", "job_id", "run_id"} <= set(line), line
        assert line["function"] == "beatless-dev-worker"
        assert line["request_id"], line  # every line comes from some invocation


def test_an_api_request_logs_its_tenant_and_the_routes_ids(deployed):
    parsed, ids = deployed
    access = [line for line in _logs(parsed) if line["logger"] == "chalicelib.http"]
    get = next(line for line in access if line["path"] == "/v1/tasks/{run_id}")
    assert get["tenant"] == "default" and get["run_id"] in (ids["run"], "nope")
    assert get["method"] == "GET" and get["status"] in (200, 404)
    assert get["duration_ms"] >= 0
    statuses = sorted(line["status"] for line in access if line["path"] == "/v1/tasks/{run_id}")
    assert statuses == [200, 404]
    assert len({line["request_id"] for line in access}) == len(access)  # one id per request


def test_each_attempt_logs_its_outcome_with_the_run_and_the_invocation(deployed):
    parsed, ids = deployed
    outcomes = [line for line in _logs(parsed) if line["logger"] == "chalicelib.runs"]
    task = [line for line in outcomes if line["run_id"] == ids["run"]]
    assert [(line["status"], line["attempt"], line["level"]) for line in task] == [
        ("FAILED", 1, "WARNING"),
        ("FAILED", 2, "WARNING"),
    ]
    assert task[0]["retry_at"] is not None and task[1]["retry_at"] is None
    assert "TaskFailed: boom" in task[1]["message"]
    assert all(line["tenant"] == "default" and line["queue"] == "default" for line in task)
    assert all(line["request_id"].startswith("sqs-request-") for line in task)
    (fired,) = [line for line in outcomes if line["job_id"] == ids["job"]]
    assert fired["status"] == "SUCCEEDED" and fired["request_id"] == "fire-request"
    assert fired["run_id"] and fired["run_id"] != ids["run"]


def test_under_make_run_and_tests_nothing_is_json_nor_emf():
    lines, _ = _scenario({})
    assert not any(line.startswith("{") for line in lines), lines


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "beatless-dev-worker"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "BEATLESS_LOG_FORMAT": "text"}, False),
        ({"BEATLESS_LOG_FORMAT": "JSON"}, True),
        ({"BEATLESS_LOG_FORMAT": "other"}, False),
    ],
)
def test_json_is_for_lambda_or_when_asked(env, wanted):
    assert logs.json_wanted(env) is wanted


def _record(logger: str = "chalicelib.x", **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.__dict__.update(extra)
    return record


def test_a_line_carries_the_ids_of_the_innermost_scope_and_they_go_with_it():
    formatter = logs.JsonFormatter()
    with logs.scope(request_id="r1", tenant="t"):
        with logs.scope(job_id="j", run_id="r"):
            inner = json.loads(formatter.format(_record(status="FAILED")))
        outer = json.loads(formatter.format(_record()))
    after = json.loads(formatter.format(_record()))
    assert inner["message"] == "hello you" and inner["status"] == "FAILED"
    assert [inner[k] for k in logs.FIELDS] == ["r1", "t", "j", "r"]
    assert [outer[k] for k in logs.FIELDS] == ["r1", "t", None, None]
    assert [after[k] for k in logs.FIELDS] == [None, None, None, None]


def test_a_bind_lasts_until_its_scope_ends():
    with logs.scope(request_id="r1"):
        logs.bind(tenant="acme", job_id=None)
        assert logs.current() == {
            "request_id": "r1",
            "tenant": "acme",
            "job_id": None,
            "run_id": None,
        }
    assert logs.current()["tenant"] is None


def test_the_lambda_runtimes_request_id_is_the_fallback_and_exceptions_are_one_line():
    formatter = logs.JsonFormatter()
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = _record(aws_request_id="from-runtime")
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["request_id"] == "from-runtime" and "aws_request_id" not in line
    assert "ValueError: bad\nthing" in line["exception"]


def test_worker_messages_and_runs_scope_their_ids():
    seen = []

    class Worker:
        @logs.of_message
        def handle_message(self, body, remaining):
            seen.append(logs.current())

        @logs.of_run
        def execute(self, run):
            seen.append(logs.current())

    Worker().handle_message({"kind": "fire", "job_id": "j1", "tenant": "t1"}, None)
    Worker().execute(SimpleNamespace(tenant="t2", job_id=None, run_id="r2"))
    assert seen == [
        {"request_id": None, "tenant": "t1", "job_id": "j1", "run_id": None},
        {"request_id": None, "tenant": "t2", "job_id": None, "run_id": "r2"},
    ]
    assert logs.current()["tenant"] is None


def test_the_middleware_names_alteryx_runs_and_workflows_by_what_they_are():
    seen = {}

    def handler(event):
        seen.update(logs.current())
        return SimpleNamespace(status_code=200)

    request = SimpleNamespace(
        lambda_context=SimpleNamespace(aws_request_id="req"),
        context={"resourcePath": "/webapi/v3/jobs/{job_id}"},
        uri_params={"job_id": "run-1"},
        method="GET",
    )
    logs.middleware(request, handler)
    assert seen == {"request_id": "req", "tenant": None, "job_id": None, "run_id": "run-1"}
    request.context = {"resourcePath": "/v1/jobs/{job_id}", "requestId": "gw"}
    request.lambda_context = None
    logs.middleware(request, handler)
    assert seen == {"request_id": "gw", "tenant": None, "job_id": "run-1", "run_id": None}


def test_an_exception_logged_outside_its_scope_still_names_the_ids_it_was_raised_with():
    class Worker:
        @logs.of_message
        def handle_message(self, body, remaining):
            raise RuntimeError("table unreachable")

    formatter = logs.JsonFormatter()
    with logs.scope(request_id="sqs"):
        try:
            Worker().handle_message({"run_id": "r9", "tenant": "t9"}, None)
        except RuntimeError:
            record = _record()
            record.exc_info = sys.exc_info()
        line = json.loads(formatter.format(record))
    assert [line[k] for k in logs.FIELDS] == ["sqs", "t9", None, "r9"]
    assert "RuntimeError: table unreachable" in line["exception"]
