"""Due-time error of the SQS path under `make run`: how far from its due second a run starts.

Starts the local runtime on free loopback ports, creates COUNT one-time jobs due 2-12 s ahead
and one `@every 2s` job, waits for their runs, and prints the error distribution (started_at
minus scheduled_time). Usage: .venv/bin/python bench/due_time_error.py [COUNT]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.local.launch import call, launched  # noqa: E402


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(count: int = 20) -> None:
    with tempfile.TemporaryFile("w") as output, launched(output) as stack:
        port = stack.port
        jobs = []
        for i in range(count):
            body = {"name": f"due-{i}", "task": "echo", "due_time": f"{2 + i % 11}s"}
            jobs.append(call(port, "POST", "/v1/jobs", body)[1]["id"])
        every = call(
            port, "POST", "/v1/jobs", {"name": "every", "task": "echo", "schedule": "@every 2s"}
        )[1]["id"]
        time.sleep(16)
        errors = []
        for job_id in [*jobs, every]:
            for run in call(port, "GET", f"/v1/jobs/{job_id}/runs")[1]["items"]:
                if run["status"] == "SUCCEEDED":
                    errors.append(
                        (_when(run["started_at"]) - _when(run["scheduled_time"])).total_seconds()
                    )
        errors.sort()
        p99 = errors[min(len(errors) - 1, int(len(errors) * 0.99))]
        print("| runs | p50 | p99 | max | min |")
        print("|---|---|---|---|---|")
        print(
            f"| {len(errors)} | {statistics.median(errors) * 1000:+.0f} ms | {p99 * 1000:+.0f} ms"
            f" | {errors[-1] * 1000:+.0f} ms | {errors[0] * 1000:+.0f} ms |"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
