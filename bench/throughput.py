"""Throughput through the local runtime: jobs created per second and runs recorded per second
with N concurrent clients (bounded counts, loopback only), and the number of errors (goal: 0)."""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.local.launch import call, launched


def run(count: int = 400, clients: int = 8) -> list[str]:
    rows = ["| load (loopback) | requests | errors | per second |", "|---|---|---|---|"]
    with tempfile.TemporaryFile("w") as output, launched(output) as stack:
        port = stack.port

        def create(i: int) -> int:
            body = {"name": f"t-{i}", "task": "echo", "schedule": "0 3 * * *"}
            return call(port, "POST", "/v1/jobs", body)[0]

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            statuses = list(pool.map(create, range(count)))
        elapsed = time.monotonic() - started
        errors = sum(1 for s in statuses if s != 201)
        rows.append(
            f"| create jobs, {clients} clients | {count} | {errors} | {count / elapsed:.0f} |"
        )

        def submit(i: int) -> tuple[int, str]:
            status, run = call(port, "POST", "/v1/tasks", {"task": "echo", "args": [i]})
            return status, run.get("id", "")

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            submitted = list(pool.map(submit, range(count)))
        errors = sum(1 for s, _ in submitted if s != 202)
        ids = {run_id for _, run_id in submitted}
        done: set[str] = set()
        deadline = time.monotonic() + 120
        while len(done) < len(ids) and time.monotonic() < deadline:
            cursor = None
            while True:
                query = "/v1/tasks?status=SUCCEEDED&limit=100" + (
                    f"&cursor={cursor}" if cursor else ""
                )
                _, page = call(port, "GET", query)
                done |= {r["id"] for r in page["items"]} & ids
                cursor = page["cursor"]
                if not cursor:
                    break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        lost = len(ids) - len(done)
        rows.append(
            f"| ad-hoc runs submitted and recorded, {clients} clients | {count} "
            f"| {errors} ({lost} not recorded) | {len(done) / elapsed:.0f} |"
        )
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print("\n".join(run(40, 4) if quick else run()))
