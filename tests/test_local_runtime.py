"""``make run``'s runtime as a real subprocess on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from chalicelib.local.launch import LOCAL_KEY, ROOT, launched
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


LIVE = '''
from chalicelib.tasks import task

VERSION = "{version}"


@task("acme.live")
def live(ctx, who):
    """Say which code ran."""
    return f"{{VERSION}} for {{who}}"
'''


def _run_once(port: int, job_id: str) -> str:
    """Trigger the job and wait for its run's result."""
    status, run = call(port, "POST", f"/v1/jobs/{job_id}/trigger")
    assert status == 202, run
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = call(port, "GET", f"/v1/tasks/{run['id']}")[1]
        if done["status"] not in ("QUEUED", "RUNNING"):
            assert done["status"] == "SUCCEEDED", done
            return done["result"]
        time.sleep(0.1)
    raise AssertionError(f"run {run['id']} did not finish")


def _save(path: Path, text: str) -> None:
    """Write and move the mtime on, as an editor's save does (a coarse clock can't hide it)."""
    path.write_text(text)
    later = path.stat().st_mtime + 2
    os.utime(path, (later, later))


def test_make_run_reloads_user_task_modules_when_their_files_change(tmp_path):
    module = tmp_path / "acme_live.py"
    module.write_text(LIVE.format(version="v1"))
    env = {"BEATLESS_TASK_MODULES": "acme_live", "PYTHONPATH": str(tmp_path)}
    log = tmp_path / "make-run.log"
    with log.open("w") as output, launched(output, env=env) as running:
        port = running.port
        names = [t["name"] for t in call(port, "GET", "/v1/tasks/registered")[1]["items"]]
        assert "acme.live" in names
        status, job = call(
            port,
            "POST",
            "/v1/jobs",
            {"name": "live", "task": "acme.live", "args": ["ann"], "schedule": "@daily"},
        )
        assert status == 201, job
        assert _run_once(port, job["id"]) == "v1 for ann"

        _save(module, LIVE.format(version="v2"))
        deadline = time.monotonic() + 15
        while (result := _run_once(port, job["id"])) != "v2 for ann":
            assert result == "v1 for ann" and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)

        _save(module, "def broken(:\n")  # a half-written save: the last good code serves on
        deadline = time.monotonic() + 15
        while "'acme_live' (BEATLESS_TASK_MODULES) failed to import" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert _run_once(port, job["id"]) == "v2 for ann"

        _save(module, LIVE.format(version="v3"))
        deadline = time.monotonic() + 15
        while (result := _run_once(port, job["id"])) != "v3 for ann":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        # The same process all along: the job and its runs are still there.
        assert running.process.poll() is None
        runs = call(port, "GET", f"/v1/jobs/{job['id']}/runs?limit=100")[1]["items"]
        assert {r["result"] for r in runs} >= {"v1 for ann", "v2 for ann", "v3 for ann"}
    assert "task modules reloaded: acme_live (tasks: acme.live)" in log.read_text()
