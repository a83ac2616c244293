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


WORKER_SETUP = """
from chalicelib import resources, services
from chalicelib.runs import steps_of
from chalicelib.settings import get_settings
from chalicelib.tasks import registry
resources.provision(get_settings())
job = {"name": "nightly", "task": "echo", "schedule": "0 2 * * *"}
print(services.job_service().create("default", job, created_by="test").job_id)
print(services.run_service().submit("default", steps_of(registry, "echo", None, [], {})).run_id)
"""
WORKER_EVENT = """
import sys, botocore.session
built = []
create = botocore.session.Session.create_client
def counted(self, name, *args, **kwargs):
    built.append(name)
    return create(self, name, *args, **kwargs)
botocore.session.Session.create_client = counted
import app
print(app.worker({event}, None)["status"])
print(built)
print(sorted(m for m in ("chalicelib.jobs", "chalicelib.runs", "chalicelib.firing",
                         "chalicelib.schedules.spec") if m in sys.modules))
"""


def test_a_worker_functions_first_event_reads_its_tables_with_one_client_and_no_service():
    """A worker function's first event, in a fresh interpreter as on Lambda, reads the tables
    its settings name (``BEATLESS_TABLE_PREFIX`` here), through one DynamoDB client, and loads
    only what its kind of event uses: a fire no job or run service, a run's message no firing
    nor schedule code (the worker is given factories; issue 19). A model read before the
    models were bound would read the default tables, and binding then builds a second client."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = "http://{}:{}".format(*server.get_host_and_port())
        env = {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_ENDPOINT_URL": endpoint,
            "BEATLESS_AWS_ENDPOINT_URL": endpoint,
            "BEATLESS_TABLE_PREFIX": "cold-",
        }
        job_id, run_id = _run(WORKER_SETUP, **env).split()[-2:]
        env["BEATLESS_FUNCTION"] = "worker"
        fire = {"job_id": job_id, "tenant": "default", "scheduled_time": "2030-01-02T02:00:00Z"}
        status, clients, loaded = _run(WORKER_EVENT.format(event=fire), **env).splitlines()
        assert (status, clients) == ("SUCCEEDED", "['dynamodb']")
        assert loaded == "['chalicelib.firing', 'chalicelib.schedules.spec']"
        message = {"run_id": run_id, "tenant": "default"}
        status, clients, loaded = _run(WORKER_EVENT.format(event=message), **env).splitlines()
        assert (status, clients, loaded) == ("SUCCEEDED", "['dynamodb']", "[]")
    finally:
        server.stop()


def test_a_target_types_module_loads_on_the_types_first_use():
    """The built-in target types are listed without importing their modules, and a type's
    module is imported when the type is first asked for: a worker that runs tasks never loads
    the HTTP or AWS targets' code (issue 19)."""
    probe = (
        "import sys\n"
        "from chalicelib import targets\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('chalicelib.targets.'))\n"
        "print(targets.names(), loaded())\n"
        "print(targets.get('sqs').name, loaded())\n"
        "print(targets.get('nope'), targets.get('http').name, loaded())\n"
    )
    listed, sqs, http = _run(probe).splitlines()
    kinds = "('eventbridge', 'http', 'lambda', 'sqs', 'stepfunctions')"
    assert listed == f"{kinds} ['chalicelib.targets.base']"
    assert sqs == "sqs ['chalicelib.targets.aws', 'chalicelib.targets.base']"
    assert http == (
        "None http ['chalicelib.targets.aws', 'chalicelib.targets.base', 'chalicelib.targets.http']"
    )
