"""Dapr's ``http/grpc.go`` and ``http/metrics/*.go``, ported (upstream: ``dapr/dapr``,
``tests/integration/suite/daprd/jobs/http/``).

``http/grpc.go`` schedules over HTTP and checks what a gRPC app receives: the data as a
``google.protobuf.Value``. beatless delivers to HTTP apps only, so the port checks the same Value
as the JSON body the HTTP app receives. The metrics tests count triggers in Prometheus counters;
beatless has no such metrics, so the port counts the app's deliveries, which those counters count.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.helpers import send
from tests.faces.test_dapr import dapr_app  # noqa: F401  (a fixture)
from tests.faces.upstream.test_dapr_jobs_http import assert_dapr_error, deliveries

# --- http/grpc.go ------------------------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/grpc.go: grpc, each subtest (the expected
# ``structpb.Value``, as JSON)
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("simple-string", '"someData"', "someData"),
        ("quoted-string", '"\\"xyz\\""', '"xyz"'),
        ("number", "123", 123),
        ("number-quoted", '"123"', "123"),
        ("object", '{"expression":"val"}', {"expression": "val"}),
        ("object-space", '{        "xyz": 123   }', {"xyz": 123}),
    ],
)
def test_grpc_data_as_value(client, dapr_app, name, data, expected):  # noqa: F811
    body = f'{{"dueTime":"0s","data":{data}}}'
    assert send(client, "POST", f"/v1.0/jobs/{name}", body).status_code == 204
    assert deliveries(dapr_app, 1, then_quiet=0) == 1
    ((path, delivered),) = dapr_app.received
    assert path == f"/job/{name}"  # upstream: Method "job/<name>", verb POST
    assert json.loads(delivered) == expected
    assert dapr_app.headers[0]["content-type"].startswith("application/json")


def _runs(client: Any) -> list[tuple[str, int]]:
    """Each run's status and attempts: what upstream's success and failure counters count."""
    return [(run["status"], run["attempt"]) for run in client.get("/v1/tasks").json_body["items"]]


# --- http/metrics/ -----------------------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/metrics/success.go: success, "successful job trigger"
# Documented difference: ``@every 0s`` is a 400 (beatless's minimum interval is 1 s); the same
# job with ``@every 1s`` triggers 3 times, as upstream's success counter counts.
def test_metrics_successful_job_trigger(client, dapr_app):  # noqa: F811
    body = '{"dueTime":"0s","data":"test","repeats":3,"schedule":"@every 0s"}'
    refused = send(client, "POST", "/v1.0/jobs/success", body)
    assert_dapr_error(refused, 400, "DAPR_SCHEDULER_SCHEDULE_JOB")
    body = body.replace("@every 0s", "@every 1s")
    assert send(client, "POST", "/v1.0/jobs/success", body).status_code == 204
    assert deliveries(dapr_app, 3) == 3
    assert _runs(client) == [("SUCCEEDED", 1)] * 3


# tests/integration/suite/daprd/jobs/http/metrics/retriablefailure.go: retriablefailure,
# "retriable failed job trigger" (an app answering 500: 1 attempt + 3 retries = 4 failures)
def test_metrics_retriable_failed_job_trigger(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [500] * 10
    body = (
        '{"dueTime":"0s","data":"test","failure_policy":'
        '{"constant":{"interval":"0s","max_retries":3}}}'
    )
    assert send(client, "POST", "/v1.0/jobs/retriablefailure", body).status_code == 204
    assert deliveries(dapr_app, 4) == 4
    assert _runs(client) == [("FAILED", 4)]


# tests/integration/suite/daprd/jobs/http/metrics/nonretriablefailure.go: nonretriablefailure,
# "non-retriable failed job trigger" (an app answering 404: 1 call, no retry). Documented
# difference: upstream counts that call as a failure; beatless's run SUCCEEDED (a 404 is
# delivered, as Dapr's channel treats it: not retried).
def test_metrics_non_retriable_failed_job_trigger(client, dapr_app):  # noqa: F811
    dapr_app.statuses = [404] * 10
    body = (
        '{"dueTime":"0s","data":"test","failure_policy":'
        '{"constant":{"interval":"0s","max_retries":3}}}'
    )
    assert send(client, "POST", "/v1.0/jobs/nonretriablefailure", body).status_code == 204
    assert deliveries(dapr_app, 1) == 1
    assert _runs(client) == [("SUCCEEDED", 1)]
