"""Exact AWS calls per operation, counted with a hook on botocore's API call.

Runs against moto in-process. Prints a markdown table: operation, calls (by API), the floor
(the fewest calls that operation can possibly need) and the ratio. Usage:
    .venv/bin/python bench/aws_calls.py
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
)
os.environ.pop("BEATLESS_AWS_ENDPOINT_URL", None)

import botocore.client
from moto import mock_aws

CALLS: Counter[str] = Counter()
_original = botocore.client.BaseClient._make_api_call


def _counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
    CALLS[operation] += 1
    return _original(self, operation, params)


botocore.client.BaseClient._make_api_call = _counting  # type: ignore[method-assign]

# The floor of each operation, and why.
FLOORS = {
    "create job": (2, "one write (job + name guard) and one CreateSchedule"),
    "get job": (1, "one GetItem"),
    "list jobs (page)": (1, "one Query"),
    "update job (PATCH schedule)": (3, "GetItem to check the version, the write, UpdateSchedule"),
    "pause job": (3, "GetItem, the write, UpdateSchedule"),
    "delete job": (3, "GetItem, the delete, DeleteSchedule"),
    "trigger job": (3, "GetItem, PutItem run, SendMessage"),
    "scheduled fire, admitted": (2, "the job's conditional count and the run's put"),
    "scheduled run, fire to record": (3, "the count, the run's put and its outcome write"),
    "second-precision fire (SQS message), fire to record": (3, "the same three writes"),
    "fire of a schedule written before its input carried the spec": (
        4,
        "a GetItem of the job, then the same three writes",
    ),
    "ad-hoc run, submit to record": (4, "PutItem, SendMessage, claim, outcome"),
    "cancel queued run": (2, "GetItem to answer for the state, the conditional update"),
    "create job, with Idempotency-Key": (
        4,
        "the key's conditional put, the job's write, CreateSchedule, the answer's store",
    ),
    "create job, replayed (same Idempotency-Key)": (
        1,
        "one read of the key's record (done: the refused conditional put, then a GetItem)",
    ),
    "trigger job, with Idempotency-Key": (
        5,
        "the key's put, GetItem job, PutItem run, SendMessage, the answer's store",
    ),
}


def measure(name: str, action: Callable[[], Any], results: dict[str, Counter[str]]) -> Any:
    CALLS.clear()
    value = action()
    results[name] = Counter(CALLS)
    return value


def run() -> list[str]:
    with mock_aws():
        from chalice.test import Client

        from app import app
        from chalicelib import resources, services
        from chalicelib.handoff import send_fire
        from chalicelib.settings import get_settings
        from chalicelib.storage import JobModel

        services.reset()
        resources.provision(get_settings())
        results: dict[str, Counter[str]] = {}
        with Client(app) as client:
            http = client.http
            body = {"name": "b", "task": "echo", "schedule": "0 9 * * *"}
            services.keys().create("default", "admin", key="bl_bench")
            headers = {"Content-Type": "application/json", "Authorization": "Bearer bl_bench"}
            # The key lookup (one GetItem) is cached for 10 s per process: warm it first, so
            # the rows count the operations themselves.
            http.get("/v1/jobs?limit=1", headers=headers)
            job = measure(
                "create job",
                lambda: http.post("/v1/jobs", headers=headers, body=json.dumps(body)).json_body,
                results,
            )
            jid = job["id"]
            keyed = {**headers, "Idempotency-Key": "bench-create"}
            again = json.dumps(body | {"name": "b-idempotent"})
            for name in (
                "create job, with Idempotency-Key",
                "create job, replayed (same Idempotency-Key)",
            ):
                measure(name, lambda: http.post("/v1/jobs", headers=keyed, body=again), results)
            measure("get job", lambda: http.get(f"/v1/jobs/{jid}", headers=headers), results)
            measure(
                "list jobs (page)", lambda: http.get("/v1/jobs?limit=10", headers=headers), results
            )
            measure(
                "update job (PATCH schedule)",
                lambda: http.patch(
                    f"/v1/jobs/{jid}", headers=headers, body=json.dumps({"schedule": "0 10 * * *"})
                ),
                results,
            )
            measure(
                "pause job", lambda: http.post(f"/v1/jobs/{jid}/pause", headers=headers), results
            )
            http.post(f"/v1/jobs/{jid}/resume", headers=headers)
            schedule = services.scheduler().get(f"job-{jid}")
            assert schedule is not None
            text = schedule["Target"]["Input"]

            def event(when: str) -> dict[str, Any]:  # what EventBridge sends at ``when``
                return json.loads(text.replace("<aws.scheduler.scheduled-time>", when))

            worker = services.worker()
            firing = services.firing()
            measure(
                "scheduled fire, admitted",
                lambda: firing.on_schedule(
                    "default",
                    jid,
                    datetime(2030, 1, 1, 10, tzinfo=UTC),
                    f"job-{jid}",
                    event("2030-01-01T10:00:00Z")["spec"],
                ),
                results,
            )
            measure(
                "scheduled run, fire to record",
                lambda: worker.handle(event("2030-01-02T10:00:00Z")),
                results,
            )
            old_input = {k: v for k, v in event("2030-01-03T10:00:00Z").items() if k != "spec"}
            measure(
                "fire of a schedule written before its input carried the spec",
                lambda: worker.handle(old_input),
                results,
            )
            second = http.post(
                "/v1/jobs",
                headers=headers,
                body=json.dumps({"name": "s", "task": "echo", "schedule": "@every 10s"}),
            ).json_body
            stored = JobModel.get("default", second["id"])
            sent: list[dict[str, Any]] = []

            class Recorder:
                def send(self, queue: str, body: dict[str, Any], delay: int = 0) -> None:
                    sent.append(body)

            send_fire(Recorder(), stored, stored.next_run_at, stored.next_run_at)  # type: ignore[arg-type]
            measure(
                "second-precision fire (SQS message), fire to record",
                lambda: worker.handle_message(sent[0], None),
                results,
            )
            run = measure(
                "trigger job",
                lambda: http.post(f"/v1/jobs/{jid}/trigger", headers=headers).json_body,
                results,
            )

            measure(
                "trigger job, with Idempotency-Key",
                lambda: http.post(
                    f"/v1/jobs/{jid}/trigger",
                    headers={**headers, "Idempotency-Key": "bench-trigger"},
                ),
                results,
            )

            def adhoc() -> None:
                submitted = http.post(
                    "/v1/tasks", headers=headers, body=json.dumps({"task": "echo"})
                ).json_body
                worker.execute_run("default", submitted["id"], None)

            measure("ad-hoc run, submit to record", adhoc, results)
            measure(
                "cancel queued run",
                lambda: http.delete(f"/v1/tasks/{run['id']}", headers=headers),
                results,
            )
            measure("delete job", lambda: http.delete(f"/v1/jobs/{jid}", headers=headers), results)

    rows = ["| operation | AWS calls | by API | floor | ratio |", "|---|---|---|---|---|"]
    for name, (floor, why) in FLOORS.items():
        counts = results[name]
        total = sum(counts.values())
        detail = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))
        rows.append(f"| {name} | {total} | {detail} | {floor} ({why}) | {total / floor:.2f} |")
    return rows


if __name__ == "__main__":
    print("\n".join(run()))
