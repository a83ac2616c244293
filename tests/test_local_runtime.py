"""``make run``'s runtime as a real subprocess on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from chalicelib.local.launch import LOCAL_KEY, ROOT
from tests.stack import call


def test_make_run_serves_the_api_against_emulated_aws_and_stops_cleanly(stack):
    process, port, moto_port = stack
    status, job = call(
        port, "POST", "/v1/jobs", {"name": "hello", "task": "echo", "schedule": "*/5 * * * *"}
    )
    assert status == 201, job
    assert call(port, "GET", f"/v1/jobs/{job['id']}")[1]["expressions"] == ["cron(0/5 * * * ? *)"]
    assert call(port, "GET", "/v1/nope")[0] == 404

    aws = {
        "endpoint_url": f"http://127.0.0.1:{moto_port}",
        "region_name": "us-east-1",
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    schedule = boto3.client("scheduler", **aws).get_schedule(
        Name=f"job-{job['id']}", GroupName="beatless"
    )
    assert schedule["ScheduleExpression"] == "cron(0/5 * * * ? *)"
    tables = boto3.client("dynamodb", **aws).list_tables()["TableNames"]
    assert {"beatless-jobs", "beatless-names", "beatless-runs", "beatless-keys"} <= set(tables)

    # The CLI reaches the same stack with --local, and its key is scoped to its own tenant.
    made = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--local", "keys", "create", "--tenant", "t2"],
        cwd=ROOT,
        env={**os.environ, "MOTO_PORT": str(moto_port)},
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip()
    assert call(port, "GET", "/v1/jobs", key=key) == (200, {"items": [], "cursor": None})
    assert call(port, "GET", f"/v1/jobs/{job['id']}", key=key)[0] == 404
    assert call(port, "GET", "/v1/jobs", key=None)[0] == 401

    # Concurrent requests never see each other's body or key (Chalice keeps the current request
    # on the app object; the local server serialises requests as Lambda would).
    def create(i: int) -> tuple[int, dict]:
        body = {"name": f"concurrent-{i}", "task": "echo", "schedule": "@daily"}
        return call(port, "POST", "/v1/jobs", body, key=key if i % 2 else LOCAL_KEY)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(16)))
    assert [status for status, _ in answers] == [201] * 16
    assert sorted(body["name"] for _, body in answers) == sorted(
        f"concurrent-{i}" for i in range(16)
    )
    t2_names = {j["name"] for j in call(port, "GET", "/v1/jobs?limit=100", key=key)[1]["items"]}
    assert t2_names == {f"concurrent-{i}" for i in range(1, 16, 2)}

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    for closed in (port, moto_port):  # nothing is left listening
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", closed), timeout=2).close()
