"""Cold start: import time of the API and of the worker module in fresh interpreters, as a
ratio to ``import boto3`` alone (medians of interleaved runs), and what the first request and
the first fire add on top (against moto, in the same fresh interpreter)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PATH": "/usr/bin:/bin",
}
IMPORTS = {
    "boto3 alone": "import boto3",
    "the API (import app)": "import app",
    "the worker (chalicelib.worker)": "import chalicelib.worker",
}
FIRST = """
import time
from moto import mock_aws
with mock_aws():
    t0 = time.perf_counter()
    import app
    from chalice.test import Client
    from chalicelib import resources, services
    from chalicelib.settings import get_settings
    resources.provision(get_settings())
    services.keys().create("default", "admin", key="bl_k")
    t1 = time.perf_counter()
    with Client(app.app) as c:
        c.http.get("/v1/jobs", headers={"Authorization": "Bearer bl_k"})
    t2 = time.perf_counter()
    with Client(app.app) as c:
        c.http.get("/v1/jobs", headers={"Authorization": "Bearer bl_k"})
    t3 = time.perf_counter()
    print(t2 - t1, t3 - t2)
"""


def _time(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True)
    return time.perf_counter() - started


def run(repeats: int = 20) -> list[str]:
    baseline = _time("pass")
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(repeats):  # interleaved, so drift hits every line alike
        for name, code in IMPORTS.items():
            samples[name].append(_time(code) - baseline)
    boto3 = statistics.median(samples["boto3 alone"])
    rows = ["| import (fresh interpreter) | median | ratio to boto3 |", "|---|---|---|"]
    for name, values in samples.items():
        median = statistics.median(values)
        rows.append(f"| {name} | {median * 1000:.0f} ms | {median / boto3:.2f} |")
    out = subprocess.run(
        [sys.executable, "-c", FIRST], cwd=ROOT, env=ENV, check=True, capture_output=True, text=True
    ).stdout.split()
    first, second = (float(v) for v in out[-2:])
    rows.append(
        f"| first request after import (clients built, against moto) | {first * 1000:.0f} ms | |"
    )
    rows.append(f"| a second request | {second * 1000:.0f} ms | |")
    return rows


if __name__ == "__main__":
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
