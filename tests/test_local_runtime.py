"""``make run``'s runtime as a real subprocess on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def stack() -> Any:
    port, moto_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BEATLESS_"))}
    env.update(PORT=str(port), MOTO_PORT=str(moto_port))
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local.runtime"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _call(port, "GET", "/v1/status")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(process.communicate()[0].decode())
    yield process, port, moto_port
    if process.poll() is None:
        process.kill()
        process.wait()


def test_make_run_serves_the_api_against_emulated_aws_and_stops_cleanly(stack):
    process, port, moto_port = stack
    status, job = _call(
        port, "POST", "/v1/jobs", {"name": "hello", "task": "echo", "schedule": "*/5 * * * *"}
    )
    assert status == 201, job
    assert _call(port, "GET", f"/v1/jobs/{job['id']}")[1]["expressions"] == ["cron(0/5 * * * ? *)"]
    assert _call(port, "GET", "/v1/nope")[0] == 404

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

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    for closed in (port, moto_port):  # nothing is left listening
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", closed), timeout=2).close()
