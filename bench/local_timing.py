"""Local runtime timing under `make run`'s stack: firing error (p50, p99, max) and the time to
record every run, for many jobs due in the same second and for due times spread over a window;
the second scenario's error is the SQS path's due-time error."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.local.launch import call, launched

#: How often the runs are listed while waiting for them, whatever the console shows.
LOOK_SECONDS = 30


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Console:
    """The launched stack's output, read (from its own handle) for runs' outcome lines."""

    def __init__(self, path: str) -> None:
        self._path = path

    def shown(self, label: str) -> int:
        """How many runs of the scenario's jobs (named ``label-<i>``) the console shows ended."""
        with open(self._path, encoding="utf-8", errors="replace") as file:
            return sum(1 for line in file if f" job {label}-" in line and " SUCCEEDED " in line)


def _scenario(
    port: int, label: str, due: list[datetime], wait: float, console: Console | None = None
) -> str:
    def create(i_when: tuple[int, datetime]) -> tuple[str, bool]:
        i, when = i_when
        body = {
            "name": f"{label}-{i}",
            "task": "echo",
            "due_time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        status, job = call(port, "POST", "/v1/jobs", body, timeout=120)
        assert status == 201, job
        return job["id"], datetime.now(UTC) > when

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(create, enumerate(due)))
    ids = [job_id for job_id, _ in made]
    # A job created after its due time fires at once, late: that lag is the API's, not the
    # firing's. Such jobs are left out of the figures (and counted); the last column says how
    # early (negative) or late the last job was created.
    late = {job_id for job_id, after in made if after}
    created = (datetime.now(UTC) - min(due)).total_seconds()
    deadline = max(max(due), datetime.now(UTC)) + timedelta(seconds=wait)
    runs: dict[str, dict] = {}
    last_look = time.monotonic()
    while datetime.now(UTC) < deadline and len(runs) < len(ids):
        # Listing the runs is a Query the stack answers while it fires: every 2 s, listing the
        # runs recorded so far took a fifth of the runtime's time during a burst of 200. So
        # the stack's console is read instead (a line per run's outcome), and the runs are
        # listed once it shows them all, or every LOOK_SECONDS. The figures come from the
        # runs' own times, so when they are listed changes none of them.
        time.sleep(1)
        shown = console.shown(label) if console is not None else 0
        if shown < len(ids) and time.monotonic() - last_look < LOOK_SECONDS:
            continue
        last_look = time.monotonic()
        cursor = None
        while True:
            query = "/v1/tasks?status=SUCCEEDED&limit=100" + (f"&cursor={cursor}" if cursor else "")
            _, page = call(port, "GET", query, timeout=120)  # the stack is busy firing
            for run in page["items"]:
                if run["job_id"] in ids:
                    runs[run["job_id"]] = run
            cursor = page["cursor"]
            if not cursor:
                break
    timed = [r for job_id, r in runs.items() if job_id not in late]
    errors = [(_when(r["started_at"]) - _when(r["scheduled_time"])).total_seconds() for r in timed]
    recorded = max(_when(r["ended_at"]) for r in timed) - min(due) if timed else None
    if late:
        label += f" ({len(late)} created after it, left out)"
    if not timed:
        return f"| {label} | 0/{len(ids) - len(late)} | | | | | {created:+.0f} s |"
    return (
        f"| {label} | {len(timed)}/{len(ids) - len(late)} "
        f"| {statistics.median(errors) * 1000:+.0f} ms "
        f"| {_percentile(errors, 0.99) * 1000:+.0f} ms | {max(errors) * 1000:+.0f} ms "
        f"| {recorded.total_seconds():.1f} s | {created:+.0f} s |"
    )


def run(same_second: int = 1000, spread: int = 200, window: int = 60) -> list[str]:
    rows = [
        "| scenario | runs recorded | error p50 | p99 | max | all recorded after the first due "
        "| last job created, from the first due |",
        "|---|---|---|---|---|---|---|",
    ]
    # Each scenario on a fresh stack, so the second does not wait behind the first's backlog.
    with tempfile.NamedTemporaryFile("w") as output, launched(output) as stack:
        # Time to create them all first (1,000 took 117 s through moto server, before make run
        # called moto in-process); a job created late is left out of the figures, and counted.
        lead = 10 + same_second // 5
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
        label = f"{same_second} jobs due in the same second"
        rows.append(_scenario(stack.port, label, [t0] * same_second, 300, Console(output.name)))
    with tempfile.NamedTemporaryFile("w") as output, launched(output) as stack:
        start = datetime.now(UTC) + timedelta(seconds=10 + spread // 8)
        due = [start + timedelta(seconds=window * i / spread) for i in range(spread)]
        label = f"{spread} due times over {window} s (SQS path)"
        rows.append(_scenario(stack.port, label, due, 30, Console(output.name)))
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print("\n".join(run(50, 20, 10) if quick else run()))
