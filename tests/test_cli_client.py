"""The ``beatless`` command against a real ``make run`` (issue 17): each command as a subprocess,
as people and scripts run it, and its errors as one line naming the API's message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.launch import LOCAL_KEY, free_port, launched

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = Path(sys.executable).parent / "beatless"
#: The installed console script (make's venv step), else the module it runs.
COMMAND = [str(INSTALLED)] if INSTALLED.exists() else [sys.executable, "-m", "beatless_cli"]

TASKS = '''
import time
from chalicelib.tasks.registry import task

@task("cli.chatty")
def chatty(ctx, lines=4, pause=0.4):
    """Log ``lines`` lines, ``pause`` seconds apart."""
    for i in range(lines):
        ctx.log(f"line {i}")
        time.sleep(pause)
    return lines
'''


def beatless(*args: str, env: dict[str, str], check: int | None = 0) -> subprocess.CompletedProcess:
    """Run the command; assert its exit code (``check``) and that it printed no traceback."""
    done = subprocess.run(
        [*COMMAND, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    if check is not None:
        assert done.returncode == check, (args, done.stdout, done.stderr)
    return done


def as_json(*args: str, env: dict[str, str]) -> Any:
    return json.loads(beatless(*args, "--json", env=env).stdout)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running stack with a task that logs, and the environment the command reads."""
    folder = tmp_path_factory.mktemp("cli")
    (folder / "cli_tasks.py").write_text(TASKS)
    env = {"BEATLESS_TASK_MODULES": "cli_tasks", "PYTHONPATH": str(folder)}
    with (folder / "make-run.log").open("w") as output:
        try:
            with launched(output, env=env) as running:
                base = {k: v for k, v in os.environ.items() if not k.startswith("BEATLESS_")}
                yield {
                    **base,
                    "BEATLESS_URL": f"http://127.0.0.1:{running.port}",
                    "BEATLESS_API_KEY": LOCAL_KEY,
                    "MOTO_PORT": str(running.moto_port),
                }
        except RuntimeError:
            pytest.fail((folder / "make-run.log").read_text())


def wait_status(run_id: str, env: dict[str, str], *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (run := as_json("runs", "show", run_id, env=env))["status"] not in statuses:
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    return run


def test_jobs_from_create_to_delete(cli_env: dict[str, str]):
    env = cli_env
    ids = []
    for n in range(3):
        done = beatless(
            "jobs", "create", "--name", f"cli-{n}", "--task", "echo", "--args", '["hi"]',
            "--schedule", "0 9 * * mon-fri", "--tz", "Europe/Paris", env=env,
        )  # fmt: skip
        assert "cron(0 9 ? * 2-6 *)" in done.stdout
        ids.append(as_json("jobs", "list", "--name", f"cli-{n}", env=env)["items"][0]["id"])

    # A page at a time with the API's cursor, or every page.
    first = beatless("jobs", "list", "--name", "cli-", "--limit", "2", env=env)
    assert first.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "TASK"]
    assert len(first.stdout.splitlines()) == 3
    cursor = first.stderr.split("--cursor ")[1].split()[0]
    rest = as_json("jobs", "list", "--name", "cli-", "--limit", "2", "--cursor", cursor, env=env)
    assert len(rest["items"]) == 1
    assert rest["cursor"] is None
    every = as_json("jobs", "list", "--name", "cli-", "--limit", "1", "--all", env=env)
    assert sorted(j["id"] for j in every["items"]) == sorted(ids)

    job = ids[0]
    shown = beatless("jobs", "show", job, env=env).stdout
    assert "cli-0" in shown
    assert "Europe/Paris" in shown
    assert as_json("jobs", "pause", job, env=env)["enabled"] is False
    assert as_json("jobs", "resume", job, env=env)["enabled"] is True

    run = as_json("jobs", "trigger", job, env=env)
    assert run["trigger"] == "manual"
    assert wait_status(run["id"], env, "SUCCEEDED")["result"] == {"args": ["hi"], "kwargs": {}}
    runs = beatless("runs", "list", "--job", job, env=env).stdout
    assert run["id"] in runs
    assert "SUCCEEDED" in runs
    assert run["id"] in beatless("runs", "list", "--status", "SUCCEEDED", "--all", env=env).stdout

    for job in ids:
        assert f"deleted job {job}" in beatless("jobs", "delete", job, env=env).stdout
    gone = beatless("jobs", "show", ids[0], env=env, check=1)
    assert gone.stderr.startswith("error: job ")
    assert "(HTTP 404 not_found)" in gone.stderr


def test_logs_follow_cancel_and_retry(cli_env: dict[str, str]):
    env = cli_env
    body = '{"name": "cli-chatty", "task": "cli.chatty", "schedule": "@daily"}'
    job = as_json("jobs", "create", "--body", body, env=env)
    run = as_json("jobs", "trigger", job["id"], env=env)
    followed = beatless("logs", run["id"], "--follow", "--interval", "0.2", env=env)
    lines = [line.split("] ", 1)[1] for line in followed.stdout.splitlines()]
    assert lines == ["line 0", "line 1", "line 2", "line 3"]  # each once, in order
    assert f"run {run['id']} ended SUCCEEDED" in followed.stderr
    plain = beatless("logs", run["id"], env=env).stdout  # no --follow: what is there, once
    assert plain == followed.stdout

    sleeper = beatless(
        "jobs", "create", "--name", "cli-sleep", "--task", "sleep", "--kwargs", '{"seconds": 30}',
        "--due-time", "1h", "--json", env=env,
    )  # fmt: skip
    slow = as_json("jobs", "trigger", json.loads(sleeper.stdout)["id"], env=env)
    wait_status(slow["id"], env, "RUNNING")
    beatless("runs", "cancel", slow["id"], env=env)
    assert wait_status(slow["id"], env, "CANCELLED", "SUCCEEDED")["status"] == "CANCELLED"
    again = beatless("runs", "cancel", slow["id"], env=env, check=1)
    assert "only QUEUED or RUNNING" in again.stderr
    assert "HTTP 409 conflict" in again.stderr

    failing = as_json("jobs", "create", "--name", "cli-fail", "--task", "fail", "--schedule",
                      "@daily", env=env)  # fmt: skip
    failed = as_json("jobs", "trigger", failing["id"], env=env)
    assert wait_status(failed["id"], env, "FAILED")["error"] == "failed on purpose"
    retried = as_json("runs", "retry", failed["id"], env=env)
    assert retried["id"] == failed["id"]
    assert retried["status"] == "QUEUED"


def test_preview_keys_and_admin(cli_env: dict[str, str]):
    env = cli_env
    preview = beatless("schedule", "preview", "0 9 * * mon-fri", "--tz", "Europe/Paris", env=env)
    assert "cron(0 9 ? * 2-6 *)" in preview.stdout
    assert len(as_json("schedule", "preview", "@hourly", "--count", "3", env=env)["next"]) == 3

    created = beatless("keys", "create", "--owner", "cli-ann", env=env)
    secret = created.stdout.strip()
    assert secret.startswith("bl_")
    key_id = json.loads(created.stderr)["id"]
    listed = beatless("keys", "list", env=env).stdout
    assert key_id in listed
    assert "cli-ann" in listed
    assert as_json("jobs", "list", "--limit", "1", env={**env, "BEATLESS_API_KEY": secret})
    assert as_json("keys", "revoke", key_id, env=env) == {"id": key_id, "revoked": True}
    refused = beatless("--key", secret, "jobs", "list", env=env, check=1)
    assert "(HTTP 401 unauthorized)" in refused.stderr

    # The operator CLI (chalicelib/cli.py), folded in: the tables directly, not the API.
    made = beatless("admin", "keys", "create", "--local", "--tenant", "cli-acme", "--role",
                    "admin", env=env)  # fmt: skip
    acme = made.stdout.strip()
    assert json.loads(made.stderr)["tenant"] == "cli-acme"
    assert as_json("--key", acme, "keys", "list", env=env)["items"][0]["tenant"] == "cli-acme"
    assert "cli-acme" in beatless("admin", "--local", "keys", "list", "--tenant", "cli-acme",
                                  env=env).stdout  # fmt: skip


def test_errors_are_one_line_with_the_api_message(cli_env: dict[str, str]):
    env = cli_env
    bad = beatless("jobs", "create", "--name", "x", "--task", "echo", "--crontab",
                   '{"minute": "61"}', env=env, check=1)  # fmt: skip
    assert bad.stderr == (
        "error: crontab.minute: 61 is out of range 0-59"
        " (HTTP 400 invalid_request, field: crontab.minute)\n"
    )
    missing = beatless("runs", "show", "nope", env=env, check=1)
    assert "(HTTP 404 not_found)" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
    unknown = beatless("jobs", "list", env={**env, "BEATLESS_API_KEY": "bl_wrong"}, check=1)
    assert unknown.stderr == ("error: the API key is unknown or disabled (HTTP 401 unauthorized)\n")
    usage = beatless("jobs", "create", "--args", "[oops", env=env, check=2)
    assert "not JSON" in usage.stderr


def test_no_server_is_a_one_line_hint():
    env = {**os.environ, "BEATLESS_URL": f"http://127.0.0.1:{free_port()}"}
    done = beatless("jobs", "list", env=env, check=1)
    assert "Connection refused" in done.stderr
    assert "is `make run` going?" in done.stderr
    assert len(done.stderr.splitlines()) == 1
