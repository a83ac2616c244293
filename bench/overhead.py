"""Overhead versus the floor, side by side in one process against the same emulated AWS: the
API's create/get/list and the worker's run versus the bare PynamoDB/boto3 calls they need.
Median ratios over many repetitions, the two sides interleaved."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.update(AWS_ACCESS_KEY_ID="b", AWS_SECRET_ACCESS_KEY="b", AWS_DEFAULT_REGION="us-east-1")
os.environ.pop("BEATLESS_AWS_ENDPOINT_URL", None)

from moto import mock_aws


def _median_ratio(
    ours: Callable[[int], Any], floor: Callable[[int], Any], reps: int
) -> tuple[float, float, float]:
    a, b = [], []
    for i in range(reps):
        t0 = time.perf_counter()
        ours(i)
        t1 = time.perf_counter()
        floor(i)
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    ma, mb = statistics.median(a), statistics.median(b)
    return ma, mb, ma / mb


def run(reps: int = 200) -> list[str]:
    with mock_aws():
        from chalice.test import Client
        from pynamodb.models import Model  # noqa: F401

        from app import app
        from chalicelib import resources, services, storage
        from chalicelib.ids import new_id
        from chalicelib.settings import get_settings
        from chalicelib.storage import JobModel, JobNameModel, RunModel
        from chalicelib.storage.bookkeeping import update_job

        services.reset()
        settings = get_settings()
        resources.provision(settings)
        services.keys().create("default", "admin", key="bl_bench")
        headers = {"Authorization": "Bearer bl_bench", "Content-Type": "application/json"}
        scheduler = services.scheduler().client
        target = {"Arn": settings.worker_arn, "RoleArn": settings.scheduler_role_arn}
        rows = ["| operation | ours (median) | floor (median) | ratio |", "|---|---|---|---|"]
        with Client(app) as client:
            http = client.http
            ids: list[str] = []

            def create(i: int) -> None:
                body = {"name": f"api-{i}", "task": "echo", "schedule": "0 9 * * *"}
                ids.append(
                    http.post("/v1/jobs", headers=headers, body=json.dumps(body)).json_body["id"]
                )

            def bare_create(i: int) -> None:
                job_id = new_id()
                job = JobModel(
                    "floor",  # another tenant: the API's list pages show only real jobs
                    job_id,
                    name=f"bare-{i}",
                    task="echo",
                    spec={},
                    created_at=time_now(),
                    updated_at=time_now(),
                )
                from pynamodb.transactions import TransactWrite

                with TransactWrite(connection=storage.connection()) as tx:
                    tx.save(job, condition=JobModel.job_id.does_not_exist())
                    tx.save(JobNameModel("floor", f"bare-{i}", job_id=job_id))
                scheduler.create_schedule(
                    Name=f"job-{job_id}",
                    GroupName="beatless",
                    ScheduleExpression="cron(0 9 * * ? *)",
                    FlexibleTimeWindow={"Mode": "OFF"},
                    Target=target,
                )

            def time_now() -> Any:
                from datetime import UTC, datetime

                return datetime.now(UTC)

            results = {
                "create job": _median_ratio(create, bare_create, reps),
                "get job": _median_ratio(
                    lambda i: http.get(f"/v1/jobs/{ids[i]}", headers=headers),
                    lambda i: JobModel.get("default", ids[i], consistent_read=True),
                    reps,
                ),
                "list jobs (page of 50)": _median_ratio(
                    lambda i: http.get("/v1/jobs?limit=50", headers=headers),
                    lambda i: list(JobModel.query("default", limit=51, page_size=51)),
                    reps,
                ),
            }
            worker = services.worker()
            specs = {i: JobModel.get("default", ids[i]).spec for i in range(reps)}

            def fire(i: int) -> None:
                worker.handle(  # the event EventBridge sends: the input carries the spec
                    {
                        "job_id": ids[i],
                        "tenant": "default",
                        "scheduled_time": f"2030-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
                        "spec": specs[i],
                    }
                )

            def bare_fire(i: int) -> None:
                update_job(  # a conditional count on the job, the run's put, its outcome
                    "default", ids[i], [JobModel.fire_count.add(1)], JobModel.job_id.exists()
                )
                run = RunModel("default", new_id(), status="RUNNING", task="echo")
                run.save(condition=RunModel.run_id.does_not_exist())
                run.update(actions=[RunModel.status.set("SUCCEEDED")])

            results["scheduled run (fire to record)"] = _median_ratio(fire, bare_fire, reps)
        for name, (ours, floor, ratio) in results.items():
            rows.append(f"| {name} | {ours * 1000:.2f} ms | {floor * 1000:.2f} ms | {ratio:.2f} |")
        return rows


if __name__ == "__main__":
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
