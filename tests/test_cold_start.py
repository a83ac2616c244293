"""Importing the app makes no AWS call and builds no client (cold start, testability)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, **extra: str) -> str:
    """``code`` in a fresh interpreter at the project root; its stdout (it must exit 0)."""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", **extra}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


PROBE = """
import botocore.session
def refuse(*args, **kwargs):
    raise SystemExit("a client was created at import time")
botocore.session.Session.create_client = refuse
import app
import chalicelib.services
print("boto3" in __import__("sys").modules)
"""


def test_importing_the_app_creates_no_aws_client():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "False"  # boto3 itself is only imported on first use


def test_importing_the_app_imports_no_user_task_module(tmp_path):
    """User task modules load on the registry's first use (a request, a run), never at import:
    a module that would fail proves it was not touched."""
    (tmp_path / "never_imported.py").write_text("raise SystemExit('imported at import time')\n")
    probe = "import app, sys\nprint('never_imported' in sys.modules)\n"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(tmp_path),
        "BEATLESS_TASK_MODULES": "never_imported",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "False"


def test_importing_the_app_or_the_worker_imports_no_pydantic_nor_openapi():
    """pydantic and the faces' models (more than ``import boto3`` itself) load at the first
    request that uses one, and the OpenAPI generator at the first document asked for: a cold
    start pays for neither (issue 19). The first document asked for then loads them."""
    probe = (
        "import sys, app, chalicelib.worker\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')"
        " or m.endswith(('_models', '.models', '.openapi')) and m.startswith('chalicelib.api')))\n"
        "from chalice.test import Client\n"
        "with Client(app.app) as client:\n"
        "    assert client.http.get('/openapi/native.json').status_code == 200\n"
        "print('pydantic' in sys.modules)\n"
    )
    out = _run(probe)
    assert out.split("\n")[:2] == ["[]", "True"], out


def test_a_worker_function_imports_no_face_and_registers_no_route():
    """On the functions the stack marks BEATLESS_FUNCTION=worker, app.py wires the handlers but
    not the API: no face, routing or console module is imported (issue 19)."""
    probe = (
        "import sys, app\n"
        "print(len(app.app.routes), sorted(m for m in sys.modules"
        " if m.startswith(('chalicelib.api', 'chalicelib.console'))))\n"
        "print(sorted(app.app.handler_map))\n"
    )
    routes, handlers = _run(probe, BEATLESS_FUNCTION="worker").splitlines()[:2]
    assert routes == "0 []"
    for name in ("worker", "queue_high", "queue_default", "queue_low", "reaper", "reconciler"):
        assert repr(name) in handlers


def test_a_worker_function_cold_start_imports_no_service_nor_the_sdk():
    """A worker function's cold start (``import app``) loads chalice, settings and logging only:
    the services, PynamoDB, botocore and the maintenance jobs load at the first event that
    uses them (``chalicelib.services`` builds each on first use), so they are paid once, by
    that event, and only by the functions whose events need them (issue 19)."""
    probe = (
        "import sys, app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pynamodb', 'botocore',"
        " 'boto3', 'urllib3') and m not in ('pynamodb', 'pynamodb.settings')"
        " or m.startswith('chalicelib.') and m not in ALLOWED))\n"
    )
    allowed = (
        "chalicelib.sdk chalicelib.logs chalicelib.metrics chalicelib.observers"
        " chalicelib.services chalicelib.settings chalicelib.aws"
    )
    out = _run(f"ALLOWED = {allowed.split()!r}\n" + probe, BEATLESS_FUNCTION="worker")
    assert out.strip() == "[]"


def test_the_composition_root_imports_a_service_when_it_builds_it():
    """``chalicelib.services`` imports no service module until a factory is called, and a
    factory imports only what its service needs: the key service loads no job, run, worker or
    executor module (the API's authentication is every request's first use)."""
    probe = (
        "import sys\n"
        "import chalicelib.services as services\n"
        "core = ('chalicelib.jobs', 'chalicelib.runs', 'chalicelib.execution',"
        " 'chalicelib.firing', 'chalicelib.worker', 'chalicelib.tenants', 'chalicelib.auth',"
        " 'chalicelib.maintenance', 'chalicelib.tasks', 'chalicelib.targets')\n"
        "print(sorted(m for m in core if m in sys.modules))\n"
        "services.keys()\n"
        "print(sorted(m for m in core if m in sys.modules))\n"
    )
    out = _run(probe)
    assert out.splitlines() == ["[]", "['chalicelib.auth']"], out


def test_importing_the_api_loads_no_core_module_a_request_builds():
    """The faces import the core modules (jobs, runs, execution, targets, parameters, the task
    registry, the schedule parser and planner) where a request uses them, and
    ``chalicelib.schedules`` loads each part on first use: the API's cold start pays for none
    of them, its first request to a service does (issue 19). Then they load as before."""
    core = [
        "chalicelib.jobs",
        "chalicelib.runs",
        "chalicelib.execution",
        "chalicelib.targets",
        "chalicelib.parameters",
        "chalicelib.tasks",
        "chalicelib.tasks.registry",
        "chalicelib.scheduler",
        "chalicelib.schedules.spec",
        "chalicelib.schedules.cron",
        "chalicelib.schedules.describe",
        "chalicelib.schedules.eventbridge",
    ]
    probe = (
        f"import sys, app\nCORE = {core!r}\n"
        "print(sorted(m for m in CORE if m in sys.modules))\n"
        "from chalicelib import schedules\n"
        "print(schedules.describe.__module__, schedules.ScheduleSpec.__module__)\n"
    )
    loaded, homes = _run(probe).splitlines()[:2]
    assert loaded == "[]"
    assert homes == "chalicelib.schedules.describe chalicelib.schedules.spec"
