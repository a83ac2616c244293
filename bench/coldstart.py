"""Cold start: import time of the API and of the worker module in fresh interpreters, as a
ratio to ``import boto3`` alone (medians of interleaved runs), and what the first request adds
on top (against moto, in the same fresh interpreter).

Times are the child's CPU time (user + system), not wall time: importing is CPU-bound, and on a
machine shared with other work the wall time measures the neighbours. What the API defers
(pydantic and the faces' models, the OpenAPI generator, boto3's clients) is paid by its first
request, so the last row compares import + first request with ``import boto3`` + building the
client that request needs: laziness that only moves the cost shows there. The worker
function's import defers the fire path to its first event, so its last rows time import + one
scheduled fire against a moto server, next to ``import boto3`` + a client + one call.

With valgrind installed and 10 repeats or more, each row also gives the instructions one run
executes (callgrind, less ``-c pass``): a count that does not depend on the machine's load,
where the CPU time of a shared machine moves by several percent from one run to the next."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PATH": "/usr/bin:/bin",
}
CLIENT = "boto3 + DynamoDB and Scheduler clients built (what a first create needs)"
CLIENTS = (
    "import boto3; s = boto3.session.Session(region_name='us-east-1')\n"
    "s.client('dynamodb'); s.client('scheduler')"
)
IMPORTS = {
    "boto3 alone": "import boto3",
    CLIENT: CLIENTS,
    "the API (import app)": "import app",
    "the worker (chalicelib.worker)": "import chalicelib.worker",
    # What a worker, queue, reaper or reconciler function imports on Lambda: app.py, as every
    # Chalice function does, without the API (the stack sets BEATLESS_FUNCTION=worker there).
    "a worker function (import app, BEATLESS_FUNCTION=worker)": (
        "import os; os.environ['BEATLESS_FUNCTION'] = 'worker'; import app"
    ),
}
FIRST = """
import sys, time
from moto import mock_aws
with mock_aws():
    import app
    from chalice.test import Client
    from chalicelib import resources, services
    from chalicelib.settings import get_settings
    resources.provision(get_settings())
    services.keys().create("default", "admin", key="bl_k")
    assert "pydantic" not in sys.modules  # moto does not load it: the requests pay for it
    key = {"Authorization": "Bearer bl_k", "Content-Type": "application/json"}
    job = b'{"name": "nightly", "task": "echo", "schedule": "0 2 * * *"}'
    import gc
    gc.collect()  # the setup's garbage is not the requests' (a Lambda has no setup in-process)
    times = [time.process_time()]
    with Client(app.app) as c:
        assert c.http.get("/v1/jobs", headers=key).status_code == 200
        times.append(time.process_time())
        assert c.http.post("/v1/jobs", headers=key, body=job).status_code == 201
        times.append(time.process_time())
        assert c.http.get("/v1/jobs", headers=key).status_code == 200
        times.append(time.process_time())
    print(*(b - a for a, b in zip(times, times[1:])))
"""


def _time(code: str, env: dict[str, str] = ENV) -> float:
    """CPU seconds (user + system) of a fresh interpreter running ``code``."""
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise RuntimeError(f"{code!r} failed ({status})")
    return usage.ru_utime + usage.ru_stime


VALGRIND = shutil.which("valgrind")
CALLGRIND = ("--tool=callgrind", "--callgrind-out-file=/dev/null")


def _instructions(code: str, env: dict[str, str] = ENV) -> float:
    """Millions of instructions a fresh interpreter running ``code`` executes (callgrind)."""
    assert VALGRIND is not None
    done = subprocess.run(
        [VALGRIND, *CALLGRIND, sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"PYTHONHASHSEED": "0"},
        check=True,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1)) / 1e6


def _counts(pairs: dict[str, tuple[str, dict[str, str]]]) -> dict[str, float] | None:
    """Instructions of each ``name: (code, env)``, less an empty interpreter's; None without
    valgrind."""
    if VALGRIND is None:
        return None
    empty = _instructions("pass")
    return {name: _instructions(code, env) - empty for name, (code, env) in pairs.items()}


FIRE_SETUP = """
from chalicelib import resources, services
from chalicelib.settings import get_settings
resources.provision(get_settings())
job = {"name": "nightly", "task": "echo", "schedule": "0 2 * * *"}
print(services.job_service().create("default", job, created_by="bench").job_id)
"""
FIRE = """
import app
event = {{"job_id": "{job}", "tenant": "default", "scheduled_time": "{when}"}}
assert app.worker(event, None)["status"] == "SUCCEEDED"
"""
FIRE_FLOOR = """
import boto3
client = boto3.session.Session(region_name="us-east-1").client("dynamodb")
client.get_item(TableName="beatless-jobs", Key={{"tenant": {{"S": "default"}},
                "job_id": {{"S": "{job}"}}}}, ConsistentRead=True)
"""


def fire_rows(repeats: int, count: bool = False) -> list[str]:
    """A worker function's cold start with its first event, which is what a Lambda pays: a
    fresh interpreter with ``BEATLESS_FUNCTION=worker`` imports app and handles one scheduled
    fire of an echo job (the fire's writes, the run executed), talking over HTTP to a moto
    server as a Lambda talks to AWS; against ``import boto3`` + a DynamoDB client + one
    GetItem to the same server. What the import defers shows here."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its line per request
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = ENV | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        env["BEATLESS_AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL"]
        job = subprocess.run(
            [sys.executable, "-c", FIRE_SETUP],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        env["BEATLESS_FUNCTION"] = "worker"
        fires: list[float] = []
        floors: list[float] = []
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(repeats):  # a new scheduled time each: a fire delivered again is a no-op
            when = (start + timedelta(days=n)).strftime("%Y-%m-%dT02:00:00Z")
            fires.append(_time(FIRE.format(job=job, when=when), env))
            floors.append(_time(FIRE_FLOOR.format(job=job), env))
        when = (start + timedelta(days=repeats)).strftime("%Y-%m-%dT02:00:00Z")
        counts = (
            _counts(
                {
                    "fire": (FIRE.format(job=job, when=when), env),
                    "floor": (FIRE_FLOOR.format(job=job), env),
                }
            )
            if count
            else None
        )
    finally:
        server.stop()
    fire, floor = statistics.median(fires), statistics.median(floors)
    fire_n, floor_n, ratio_n = ("", "", "")
    if counts:
        fire_n, floor_n = f"{counts['fire']:.0f} M", f"{counts['floor']:.0f} M"
        ratio_n = f"{counts['fire'] / counts['floor']:.2f}"
    return [
        f"| a worker function: import + one scheduled fire (echo job, moto server over HTTP) "
        f"| {fire * 1000:.0f} ms | {fire / floor:.2f} against the next row "
        f"| {fire_n} | {ratio_n} |",
        f"| boto3 + DynamoDB client + one GetItem (same server) | {floor * 1000:.0f} ms | "
        f"| {floor_n} | |",
    ]


def run(repeats: int = 20) -> list[str]:
    count = VALGRIND is not None and repeats >= 10
    baseline = _time("pass")
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(repeats):  # interleaved, so drift hits every line alike
        for name, code in IMPORTS.items():
            samples[name].append(_time(code) - baseline)
    boto3 = statistics.median(samples["boto3 alone"])
    counts = _counts({name: (code, ENV) for name, code in IMPORTS.items()}) if count else None
    rows = [
        "| import (fresh interpreter) | median CPU time | ratio to boto3 | instructions | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, values in samples.items():
        median = statistics.median(values)
        n = f"{counts[name]:.0f} M | {counts[name] / counts['boto3 alone']:.2f}" if counts else " |"
        rows.append(f"| {name} | {median * 1000:.0f} ms | {median / boto3:.2f} | {n} |")
    out = subprocess.run(
        [sys.executable, "-c", FIRST], cwd=ROOT, env=ENV, check=True, capture_output=True, text=True
    ).stdout.split()
    first, create, second = (float(v) for v in out[-3:])
    rows.append(
        f"| first request after import (GET /v1/jobs: DynamoDB client built, against moto) "
        f"| {first * 1000:.0f} ms | | | |"
    )
    rows.append(
        f"| first create (POST /v1/jobs: pydantic and the native models loaded, Scheduler client) "
        f"| {create * 1000:.0f} ms | | | |"
    )
    rows.append(f"| a second request (GET /v1/jobs) | {second * 1000:.0f} ms | | | |")
    api = statistics.median(samples["the API (import app)"]) + first + create
    client = statistics.median(samples[CLIENT])
    rows.append(
        f"| the API: import + first request + first create, against {CLIENT.split(' (')[0]} "
        f"| {api * 1000:.0f} ms | {api / client:.2f} | | |"
    )
    return rows + fire_rows(repeats, count)


if __name__ == "__main__":
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
