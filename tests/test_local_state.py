"""``make run`` keeps its state across restarts (chalicelib/local/state.py) and applies the misfire
rule and the interrupted-run rule at start (chalicelib/local/catchup.py).

The rules are tested against moto in-process; the whole of it (SIGKILL and SIGTERM with jobs,
queued and running runs present) through the runtime as a subprocess."""

from __future__ import annotations

import pickle
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app import worker as worker_handler
from chalicelib import services
from chalicelib.local.catchup import RECORDED, catch_up, missed_fires, recover_interrupted
from chalicelib.local.launch import ROOT, call, launched
from chalicelib.local.state import FILENAME, Gate, Saver, Snapshots, StateError
from chalicelib.settings import get_settings
from chalicelib.storage import RunModel
from tests.api.helpers import create, submit_task
from tests.conftest import drain

# -- the misfire rule -------------------------------------------------------------------------


def _schedule(scheduler: Any, job_id: str) -> dict[str, Any]:
    return scheduler.get_schedule(Name=f"job-{job_id}", GroupName=get_settings().schedule_group)


def _runs(client: Any, job_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/jobs/{job_id}/runs?limit=100").json_body["items"]


def test_the_latest_missed_fire_runs_once_and_the_older_are_recorded_skipped(client, scheduler):
    job = create(client, schedule="* * * * *")
    until = datetime.now(UTC).replace(second=30, microsecond=0)
    since = until - timedelta(minutes=10, seconds=10)
    fired: list[dict[str, Any]] = []
    done = catch_up(
        scheduler,
        get_settings().schedule_group,
        since,
        until,
        fired.append,
        services.firing().record_missed,
    )
    minutes = missed_fires(_schedule(scheduler, job["id"]), since - timedelta(seconds=5), until)
    assert len(minutes) == 10
    assert [event["scheduled_time"] for event in fired] == [f"{minutes[-1]:%Y-%m-%dT%H:%M:%SZ}"]
    assert (done.fired, done.skipped, done.uncounted) == (1, 9, 0)
    skipped = [r for r in _runs(client, job["id"]) if r["status"] == "SKIPPED"]
    assert len(skipped) == 9
    assert {r["scheduled_time"] for r in skipped} == {
        f"{m:%Y-%m-%dT%H:%M:%SZ}" for m in minutes[:-1]
    }
    assert all(r["reason"].startswith("missed: make run was stopped") for r in skipped)
    # The fire goes through the worker as EventBridge's would, and runs once.
    assert worker_handler(fired[0], None)["status"] == "SUCCEEDED"
    assert worker_handler(fired[0], None)["status"] == "DUPLICATE"
    # Applied again (a second restart over the same stop): nothing recorded twice.
    again = catch_up(
        scheduler,
        get_settings().schedule_group,
        since,
        until,
        lambda _: None,
        services.firing().record_missed,
    )
    assert again.skipped == 0
    assert len([r for r in _runs(client, job["id"]) if r["status"] == "SKIPPED"]) == 9


def test_only_the_last_hundred_older_misses_are_recorded(client, scheduler):
    job = create(client, schedule="* * * * *")
    until = datetime.now(UTC).replace(second=30, microsecond=0)
    done = catch_up(
        scheduler,
        get_settings().schedule_group,
        until - timedelta(minutes=150),
        until,
        lambda _: None,
        services.firing().record_missed,
    )
    assert (done.fired, done.skipped) == (1, RECORDED)
    assert done.uncounted == 150 - 1 - RECORDED
    assert len(_runs(client, job["id"])) == RECORDED


def test_a_paused_job_misses_nothing(client, scheduler):
    job = create(client, schedule="* * * * *")
    assert client.post(f"/v1/jobs/{job['id']}/pause").status_code == 200
    until = datetime.now(UTC)
    fired: list[Any] = []
    done = catch_up(
        scheduler,
        get_settings().schedule_group,
        until - timedelta(minutes=5),
        until,
        fired.append,
        services.firing().record_missed,
    )
    assert (fired, done.skipped) == ([], 0)
    assert _runs(client, job["id"]) == []


def test_a_sub_minute_jobs_missed_heartbeats_are_not_recorded_as_its_fires(client, scheduler):
    job = create(client, schedule=None, interval={"every": 10, "period": "seconds"})
    since = datetime.now(UTC)  # its heartbeat starts at the next minute: a stop to come
    done = catch_up(
        scheduler,
        get_settings().schedule_group,
        since,
        since + timedelta(minutes=5),
        lambda _: None,
        services.firing().record_missed,
    )
    assert done.fired == 1  # the latest heartbeat plans the coming fires
    assert done.skipped == 0
    assert [r for r in _runs(client, job["id"]) if r["status"] == "SKIPPED"] == []


# -- runs the stop interrupted ----------------------------------------------------------------


def _claimed(client: Any, **body: Any) -> RunModel:
    """A run as a worker holds it: created through the API, then claimed RUNNING."""
    created = submit_task(client, **{"task": "echo", **body})
    run = RunModel.get("default", created["id"], consistent_read=True)
    assert services.executor().claim(run)
    return RunModel.get("default", created["id"], consistent_read=True)


def test_a_run_interrupted_by_the_stop_runs_again_once_whatever_its_retry_policy(client):
    run = _claimed(client, args=[1], retry={"max_attempts": 1})
    assert recover_interrupted(services.executor()) == 1
    assert recover_interrupted(services.executor()) == 0  # QUEUED now: nothing to recover
    waiting = client.get(f"/v1/tasks/{run.run_id}").json_body
    assert waiting["status"] == "QUEUED"
    assert waiting["attempts"][0]["outcome"] == "TIMED_OUT"
    assert waiting["attempts"][0]["error"].startswith("Interrupted: make run stopped")
    time.sleep(1.1)  # the policy's backoff before the next attempt
    drain()
    ended = client.get(f"/v1/tasks/{run.run_id}").json_body
    assert ended["status"] == "SUCCEEDED"
    assert ended["attempt"] == 2
    assert ended["result"] == {"args": [1], "kwargs": {}}


def test_an_interrupted_run_with_a_cancel_waiting_ends_cancelled(client):
    run = _claimed(client, task="sleep", kwargs={"seconds": 5})
    assert client.delete(f"/v1/tasks/{run.run_id}").status_code == 200
    assert recover_interrupted(services.executor()) == 0
    assert client.get(f"/v1/tasks/{run.run_id}").json_body["status"] == "CANCELLED"


# -- the state file ---------------------------------------------------------------------------


def test_a_snapshot_waits_for_requests_in_flight_and_holds_new_ones_back():
    gate, order = Gate(), []
    inside, release = threading.Event(), threading.Event()

    def request(name: str, hold: bool) -> None:
        with gate.shared():
            order.append(f"{name} in")
            if hold:
                inside.set()
                release.wait(5)
            order.append(f"{name} out")

    def snapshot() -> None:
        with gate.exclusive():
            order.append("snapshot")

    first = threading.Thread(target=request, args=("first", True))
    first.start()
    inside.wait(5)
    taker = threading.Thread(target=snapshot)
    taker.start()
    time.sleep(0.1)
    second = threading.Thread(target=request, args=("second", False))
    second.start()
    time.sleep(0.1)
    assert order == ["first in"]  # the snapshot waits, and the new request waits behind it
    release.set()
    for thread in (first, taker, second):
        thread.join(5)
    assert order == ["first in", "first out", "snapshot", "second in", "second out"]


def test_slow_snapshots_are_spaced_to_hold_moto_a_tenth_of_the_time_at_most():
    now, saves = [0.0], []

    class Slow:
        def save(self) -> int:
            saves.append(now[0])
            now[0] += 1.0  # a large state: a second to take
            return 0

    dirty = threading.Event()
    saver = Saver(Slow(), dirty, interval=2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    for tick in range(0, 30, 2):  # the loop steps every 2 s, and something always changed
        now[0] = max(now[0], float(tick))
        dirty.set()
        saver.step()
    assert saves == [0.0, 10.0, 20.0]  # 1 s taken in every 10
    assert dirty.is_set()  # what changed since is saved at the next allowed step


def test_a_torn_write_never_replaces_the_last_snapshot(tmp_path: Path):
    import moto

    folder = tmp_path / "state"
    folder.mkdir()
    good = {"format": 1, "moto": moto.__version__, "saved_at": datetime.now(UTC), "backends": {}}
    (folder / FILENAME).write_bytes(pickle.dumps(good))
    (folder / FILENAME).with_suffix(".tmp").write_bytes(b"half a pickle")  # killed mid-write
    restored = Snapshots(folder, Gate()).restore()
    assert restored is not None and restored.saved_at == good["saved_at"]


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"not a pickle", "cannot be read"), ({"format": 0, "moto": "0"}, "another version")],
)
def test_a_state_file_it_cannot_read_is_refused_with_the_way_out(tmp_path, content, says):
    data = content if isinstance(content, bytes) else pickle.dumps(content)
    (tmp_path / FILENAME).write_bytes(data)
    with pytest.raises(StateError, match=f"{says}.*make reset"):
        Snapshots(tmp_path, Gate()).restore()


def test_make_reset_wipes_the_state(tmp_path: Path):
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / FILENAME).write_bytes(b"x")
    done = subprocess.run(
        ["make", "-s", "reset", f"BEATLESS_STATE_DIR={folder}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "BEATLESS_STATE_DIR": str(folder)},
    )
    assert done.returncode == 0, done.stderr
    assert not folder.exists()
    assert "starts empty" in done.stdout


# -- through make run's runtime ---------------------------------------------------------------


def _wait(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _status(port: int, run_id: str) -> str:
    return call(port, "GET", f"/v1/tasks/{run_id}")[1]["status"]


def _fires(port: int, job_id: str) -> list[str]:
    items = call(port, "GET", f"/v1/jobs/{job_id}/runs?limit=100")[1]["items"]
    return sorted(r["scheduled_time"] for r in items if r["status"] == "SUCCEEDED")


@pytest.mark.slow
def test_nothing_is_lost_across_a_sigkill_and_a_sigterm(tmp_path: Path):
    env = {"BEATLESS_STATE_DIR": str(tmp_path / "state")}
    with open(tmp_path / "runtime.log", "w") as out:
        with launched(out, env=env) as stack:
            port = stack.port
            status, job = call(
                port,
                "POST",
                "/v1/jobs",
                {"name": "ticks", "task": "echo", "interval": {"every": 2, "period": "seconds"}},
            )
            assert status == 201, job
            status, user = call(port, "POST", "/v1/keys", {"role": "user"})
            assert status == 201, user
            running = call(port, "POST", "/v1/tasks", {"task": "sleep", "kwargs": {"seconds": 6}})
            queued = call(port, "POST", "/v1/tasks", {"task": "echo", "delay_seconds": 15})
            running_id, queued_id = running[1]["id"], queued[1]["id"]
            _wait("the sleep to run", lambda: _status(port, running_id) == "RUNNING")
            _wait("a fire of the job", lambda: _fires(port, job["id"]))
            time.sleep(2.5)  # a snapshot with all of it
            stack.process.send_signal(signal.SIGKILL)
            stack.process.wait()
        killed_at = datetime.now(UTC)
        with launched(out, env=env) as stack:
            port = stack.port
            assert call(port, "GET", f"/v1/jobs/{job['id']}")[0] == 200
            assert call(port, "GET", "/v1/status", key=user["key"])[0] == 200
            _wait("the interrupted run", lambda: _status(port, running_id) == "SUCCEEDED")
            again = call(port, "GET", f"/v1/tasks/{running_id}")[1]
            assert [a["outcome"] for a in again["attempts"]] == ["TIMED_OUT", "SUCCEEDED"]
            assert again["attempt"] == 2
            _wait("the queued run", lambda: _status(port, queued_id) == "SUCCEEDED")
            _wait(
                "a fire after the restart",
                lambda: any(t > f"{killed_at:%Y-%m-%dT%H:%M:%SZ}" for t in _fires(port, job["id"])),
            )
        # SIGTERM (launched's exit): saved at stop, and it goes on firing after the next start.
        stopped_at = datetime.now(UTC)
        time.sleep(8)  # fires of the job fall due while it is stopped
        with launched(out, env=env) as stack:
            port = stack.port
            assert call(port, "GET", "/v1/status", key=user["key"])[0] == 200
            items = call(port, "GET", f"/v1/jobs/{job['id']}/runs?limit=100")[1]["items"]
            gap = (
                f"{stopped_at + timedelta(seconds=1):%Y-%m-%dT%H:%M:%SZ}",
                f"{stopped_at + timedelta(seconds=7):%Y-%m-%dT%H:%M:%SZ}",
            )
            missed = [r for r in items if gap[0] <= r["scheduled_time"] <= gap[1]]
            assert len([r for r in missed if r["status"] == "SKIPPED"]) >= 2, missed
            assert all(
                r["reason"].startswith("missed: make run was stopped")
                for r in missed
                if r["status"] == "SKIPPED"
            )
            assert len([r for r in missed if r["status"] != "SKIPPED"]) <= 1, missed
            _wait(
                "a fire after the second restart",
                lambda: any(
                    t > f"{stopped_at:%Y-%m-%dT%H:%M:%SZ}" for t in _fires(port, job["id"])
                ),
            )
            assert _status(port, running_id) == "SUCCEEDED"  # ran again once, not twice
    log = (tmp_path / "runtime.log").read_text()
    assert "1 runs interrupted by the stop are queued to run again" in log
    assert log.count("state restored from") == 2
