"""``make run``'s runtime as a real subprocess on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import boto3
import pytest

from chalicelib.local.launch import ROOT
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

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    for closed in (port, moto_port):  # nothing is left listening
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", closed), timeout=2).close()
