"""`make bench`: every benchmark, one markdown report on stdout and in docs/performance.md.

`--quick` runs every script on small sizes (CI runs it, so the benchmarks cannot rot) and
writes nothing. Each script runs in its own interpreter: they patch botocore to count calls.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [
    ("1. AWS calls per operation (exact, botocore hook; moto in-process)", "aws_calls.py", [], []),
    (
        "2. Cost at scale: one list page of 50 (items DynamoDB read)",
        "scale.py",
        ["100", "1000"],
        ["100", "10000", "100000"],
    ),
    (
        "3. Overhead versus the floor (median of interleaved repetitions)",
        "overhead.py",
        ["20"],
        ["200"],
    ),
    (
        "4. Cold start (fresh interpreters: median CPU time, instructions; ratio to import boto3)",
        "coldstart.py",
        ["3"],
        ["20"],
    ),
    (
        "5. Deployment package (as deployed: the functions' zip and the SDK layer)",
        "package.py",
        [],
        [],
    ),
    ("6. Local runtime timing (make run's stack)", "local_timing.py", ["--quick"], []),
    ("7. Throughput through the local runtime", "throughput.py", ["--quick"], []),
    (
        "8. Next fire time: one call, median and worst over start times across a day",
        "nextfire.py",
        ["--quick"],
        [],
    ),
]


def main() -> int:
    quick = "--quick" in sys.argv
    only = {int(a) for a in sys.argv[1:] if a.isdigit()}  # e.g. `run.py 6`: that section only
    lines = [
        "# Performance",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"with `make bench{' QUICK=1' if quick else ''}` (`python bench/run.py"
        f"{' --quick' if quick else ''}`). Figures, not pass/fail thresholds.",
        "",
    ]
    failed = 0
    for number, (title, script, quick_args, full_args) in enumerate(SECTIONS, 1):
        if only and number not in only:
            continue
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *(quick_args if quick else full_args)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
        lines += [f"## {title}", ""]
        if done.returncode != 0 or not rows:
            failed += 1
            lines += [f"failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}", ""]
        else:
            lines += [*rows, "", f"({time.monotonic() - started:.0f} s)", ""]
        print(f"## {title}", *(rows or lines[-2:-1]), "", sep="\n", flush=True)
    report = "\n".join(lines)
    if not quick and not failed and not only:
        (ROOT / "docs" / "performance.md").write_text(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
