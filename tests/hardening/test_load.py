"""A bounded load on ``make run`` over loopback: clients create jobs and runs and read them back
while schedules fire; a fixed request count and a time limit. Zero errors, and every run
accounted for: each task submitted and each due job ran exactly once, and the recurring jobs'
fires never twice. Prints requests per second and latency percentiles.

``BEATLESS_LOAD_REQUESTS`` sets the count (make test: 240; make fuzz: 3,000).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.stack import call

pytestmark = pytest.mark.slow

REQUESTS = int(os.environ.get("BEATLESS_LOAD_REQUESTS", "240"))
CLIENTS = 8
TIME_LIMIT = 60 + REQUESTS * 0.2  # seconds for the load itself; generous, never a pass mark


def _pages(port: int, path: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        status, page = call(port, "GET", path + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, page
        items += page["items"]
        cursor = page["cursor"]
        if not cursor:
            return items


def test_bounded_load_while_schedules_fire_loses_nothing(stack, capsys):
    _, port, _ = stack
    recurring = []
    for i in range(3):  # fire every 5 s through the SQS path during the whole load
        status, job = call(
            port,
            "POST",
            "/v1/jobs",
            {"name": f"every-5s-{i}", "task": "echo", "schedule": "@every 5s"},
        )
        assert status == 201, job
        recurring.append(job["id"])
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    tasks: list[str] = []
    due_jobs: list[str] = []
    rng = random.Random(11)
    plan = [
        rng.choice(["task", "task", "due-job", "read-task", "list-jobs"]) for _ in range(REQUESTS)
    ]
    deadline = time.monotonic() + TIME_LIMIT

    def one(index: int) -> None:
        if time.monotonic() > deadline:
            return
        kind = plan[index]
        started = time.perf_counter()
        if kind == "task":
            status, body = call(port, "POST", "/v1/tasks", {"task": "echo", "args": [index]})
            expected = 202
        elif kind == "due-job":
            status, body = call(
                port,
                "POST",
                "/v1/jobs",
                {"name": f"due-{index}", "task": "echo", "due_time": f"{1 + index % 5}s"},
            )
            expected = 201
        elif kind == "read-task" and tasks:
            with lock:
                run_id = rng.choice(tasks)
            status, body = call(port, "GET", f"/v1/tasks/{run_id}")
            expected = 200
        else:
            status, body = call(port, "GET", "/v1/jobs?limit=20")
            expected = 200
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            statuses[status if status == expected else -status] += 1
            if kind == "task" and status == 202:
                tasks.append(body["id"])
            if kind == "due-job" and status == 201:
                due_jobs.append(body["id"])

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(REQUESTS)))
    elapsed = time.monotonic() - started
    sent = sum(statuses.values())
    errors = sum(n for s, n in statuses.items() if s < 0)

    # Every run accounted for: wait (bounded) until each task and due job has run.
    settle = time.monotonic() + 90
    while True:
        runs = _pages(port, "/v1/tasks?limit=100")
        by_id = {r["id"]: r for r in runs}
        pending_tasks = [t for t in tasks if by_id.get(t, {}).get("status") != "SUCCEEDED"]
        fired = Counter(r["job_id"] for r in runs if r["status"] == "SUCCEEDED")
        pending_due = [j for j in due_jobs if fired[j] != 1]
        if not (pending_tasks or pending_due) or time.monotonic() > settle:
            break
        time.sleep(1)
    fire_times = Counter(
        (r["job_id"], r["scheduled_time"]) for r in runs if r["job_id"] in recurring
    )
    duplicates = [key for key, n in fire_times.items() if n > 1]
    recurring_runs = sum(fire_times.values())
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    with capsys.disabled():
        print(
            f"\nload: {sent}/{REQUESTS} requests by {CLIENTS} clients in {elapsed:.1f} s "
            f"= {sent / elapsed:.1f} req/s; errors {errors}; latency p50 {pct(0.5):.0f} ms, "
            f"p99 {pct(0.99):.0f} ms, max {ordered[-1] * 1000:.0f} ms; "
            f"{len(tasks)} tasks and {len(due_jobs)} due jobs all run once: "
            f"{not pending_tasks and not pending_due}; {recurring_runs} recurring fires, "
            f"{len(duplicates)} duplicated"
        )
    assert sent == REQUESTS, f"only {sent} requests within {TIME_LIMIT:.0f} s"
    assert errors == 0, statuses
    assert not pending_tasks, f"{len(pending_tasks)} tasks not run: {pending_tasks[:5]}"
    assert not pending_due, f"{len(pending_due)} due jobs not run once: {pending_due[:5]}"
    assert not duplicates, duplicates
    assert recurring_runs >= len(recurring), "the recurring jobs never fired during the load"
