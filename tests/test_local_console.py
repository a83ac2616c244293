"""``make run``'s console (issue 17): each run's outcome, ``ctx.log`` lines at verbose, only
failures at quiet (``BEATLESS_LOG_LEVEL``), through ``make run`` as a subprocess; and the
executor's observer hook it relies on, in process."""

from __future__ import annotations

import re
import time
from pathlib import Path

from chalicelib.local.launch import call, launched

TASKS = '''
from chalicelib.tasks import task


@task("console.chatty")
def chatty(ctx, lines=2):
    """Log `lines` lines."""
    for i in range(lines):
        ctx.log(f"line {i}", level="DEBUG" if i % 2 else "INFO")
    return lines
'''
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")


def _finished(port: int, run_id: str) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = call(port, "GET", f"/v1/tasks/{run_id}")[1]
        if run["status"] in FINAL:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def _console(tmp_path: Path, level: str) -> tuple[str, dict[str, str]]:
    """Run a success, a failure, a logging task and a job's run under ``level``; the console
    output and the run ids by kind."""
    (tmp_path / "console_tasks.py").write_text(TASKS)
    env = {
        "BEATLESS_LOG_LEVEL": level,
        "BEATLESS_TASK_MODULES": "console_tasks",
        "PYTHONPATH": str(tmp_path),
    }
    log = tmp_path / "make-run.log"
    ids: dict[str, str] = {}
    with log.open("w") as output, launched(output, env=env) as running:
        port = running.port
        bodies = {
            "ok": {"task": "echo", "args": [1]},
            "fail": {"task": "fail", "args": ["boom"]},
            "chatty": {"task": "console.chatty"},
        }
        for kind, body in bodies.items():
            status, run = call(port, "POST", "/v1/tasks", body)
            assert status == 202, run
            ids[kind] = run["id"]
        status, job = call(
            port, "POST", "/v1/jobs", {"name": "nightly", "task": "echo", "schedule": "@daily"}
        )
        assert status == 201, job
        ids["job"] = job["id"]
        ids["job_run"] = call(port, "POST", f"/v1/jobs/{job['id']}/trigger")[1]["id"]
        for kind in ("ok", "fail", "chatty", "job_run"):
            _finished(port, ids[kind])
        deadline = time.monotonic() + 5  # the line is printed just after the outcome's write
        shown = ("fail",) if level == "quiet" else ("ok", "fail", "chatty", "job_run")
        while not all(_outcome(log.read_text(), ids[k]) for k in shown):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(0.3)
    return log.read_text(), ids


def _outcome(text: str, run_id: str) -> re.Match[str] | None:
    return re.search(
        rf"local-runtime\.runs run {run_id} (?:job (?P<job>\S+ \(\w+\)) )?(?P<work>\S+) "
        rf"(?P<status>[A-Z_]+) in (?P<took>\d+\.\d{{3}})s \(attempt (?P<attempt>\d+)\)"
        rf"(?:\n    (?P<exc>.*))?",
        text,
    )


def test_default_prints_each_outcome_with_duration_attempt_and_exception(tmp_path):
    text, ids = _console(tmp_path, "default")
    ok = _outcome(text, ids["ok"])
    assert ok and ok["work"] == "echo" and ok["status"] == "SUCCEEDED", text
    assert ok["attempt"] == "1" and float(ok["took"]) < 5 and ok["exc"] is None
    failed = _outcome(text, ids["fail"])
    assert failed and failed["status"] == "FAILED" and failed["exc"] == "TaskFailed: boom", text
    job_run = _outcome(text, ids["job_run"])
    assert job_run and job_run["job"] == f"nightly ({ids['job']})", text
    assert job_run["status"] == "SUCCEEDED" and job_run["work"] == "echo"
    assert '"POST /v1/tasks HTTP/1.1" 202' in text  # the HTTP lines stay
    assert "line 0" not in text and "hand-off" not in text  # verbose only


def test_verbose_adds_ctx_log_lines_and_hand_offs(tmp_path):
    text, ids = _console(tmp_path, "verbose")
    chatty = ids["chatty"]
    assert f"local-runtime.task run {chatty} step 0 INFO: line 0" in text
    assert f"local-runtime.task run {chatty} step 0 DEBUG: line 1" in text
    # the log lines come as they are written, before the run's outcome
    assert text.index("DEBUG: line 1") < _outcome(text, chatty).start()
    assert f"hand-off from queue default to the worker: run {ids['ok']}" in text
    assert _outcome(text, ids["ok"])["status"] == "SUCCEEDED"


def test_quiet_prints_failures_only(tmp_path):
    text, ids = _console(tmp_path, "quiet")
    failed = _outcome(text, ids["fail"])
    assert failed and failed["exc"] == "TaskFailed: boom", text
    for kind in ("ok", "chatty", "job_run"):
        assert ids[kind] not in text
    assert "HTTP/1.1" not in text and "line 0" not in text
    after_start = text.split("beatless API on", 1)[1].splitlines()[1:]
    rest = [line.split(" ", 2)[-1] for line in after_start if not line.startswith("    ")]
    rest = [re.sub(r"saved to \S+ \(\d+ KB\)", "saved to …", line) for line in rest]
    assert rest == [
        failed.group(0).splitlines()[0],
        "local-runtime signal 15: stopping",
        "local-runtime state saved to …",
        "local-runtime stopped",
    ], text


def test_an_unknown_level_is_named_and_default_used(monkeypatch, caplog):
    from chalicelib.local import console

    monkeypatch.setenv("BEATLESS_LOG_LEVEL", "loud")
    assert console.level_from_env() == "default"
    assert "'loud' is not one of quiet, default, verbose" in caplog.text


def test_observers_see_log_lines_and_each_attempt_and_cannot_fail_a_run(client, monkeypatch):
    from chalicelib import execution
    from tests.api.helpers import get_task, submit_task
    from tests.conftest import drain

    seen: list[tuple] = []

    def record(event, run, **details):
        seen.append((event, run.run_id, details.get("status"), details.get("attempt")))

    def broken(event, run, **details):
        raise RuntimeError("observer bug")

    monkeypatch.setattr(execution, "OBSERVERS", [broken, record])
    chatty = submit_task(client, task="tests.chatty", kwargs={"lines": 2})
    flaky = submit_task(
        client,
        task="tests.flaky",
        kwargs={"key": "observed", "failures": 1},
        retry={"max_attempts": 2, "initial_seconds": 0},
    )
    drain()
    assert get_task(client, chatty["id"])["status"] == "SUCCEEDED"
    assert get_task(client, flaky["id"])["status"] == "SUCCEEDED"
    assert [s for s in seen if s[1] == chatty["id"]] == [
        ("log", chatty["id"], None, None),
        ("log", chatty["id"], None, None),
        ("end", chatty["id"], "SUCCEEDED", 1),
    ]
    assert [s for s in seen if s[1] == flaky["id"]] == [
        ("end", flaky["id"], "FAILED", 1),
        ("end", flaky["id"], "SUCCEEDED", 2),
    ]
