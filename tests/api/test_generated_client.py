"""The native API through a client generated from its own OpenAPI document (openapi-python-client),
served by ``make run``'s runtime: what a user of the document gets, not only what raw JSON does.

Issue 13, item 7: the document gave ``JobPatch`` the create defaults, so a generated client sent
``enabled: true``, ``description: ""``, ``overlap: "allow"`` and ``timeout_seconds: 300`` with every
PATCH, and patching only the schedule of a paused job resumed it and reset those fields.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

from chalicelib.local.launch import LOCAL_KEY
from tests.stack import call

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "beatless_native_client"


@pytest.fixture(scope="module")
def native(shared_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package (its ``api.default`` operations and ``models``) and a client of the
    running stack; generated once for the module from the document the stack serves."""
    _, port, _ = shared_stack
    status, document = call(port, "GET", "/openapi/native.json")
    assert status == 200, document
    root = tmp_path_factory.mktemp("generated")
    (root / "native.json").write_text(json.dumps(document))
    (root / "config.json").write_text(json.dumps({"post_hooks": []}))  # no formatter needed
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(root / "native.json"),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(root / "config.json"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module(PACKAGE)
        yield SimpleNamespace(
            api=importlib.import_module(f"{PACKAGE}.api.default"),
            models=importlib.import_module(f"{PACKAGE}.models"),
            types=importlib.import_module(f"{PACKAGE}.types"),
            client=package.AuthenticatedClient(
                base_url=f"http://127.0.0.1:{port}",
                token=LOCAL_KEY,
                raise_on_unexpected_status=True,
            ),
        )
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _operation(native: Any, name: str) -> Any:
    return importlib.import_module(f"{native.api.__name__}.{name}")


def test_the_generated_patch_model_sends_only_what_is_set(native):
    patch = native.models.JobPatch(schedule="0 3 * * *")
    assert patch.to_dict() == {"schedule": "0 3 * * *"}
    empty = native.models.JobPatch()
    defaults = {f.name: getattr(empty, f.name) for f in attrs.fields(type(empty))}
    assert all(value is native.types.UNSET for value in defaults.values()), defaults


def test_patching_the_schedule_of_a_paused_job_through_the_generated_client(native):
    models, client = native.models, native.client
    created = _operation(native, "post_v1_jobs").sync_detailed(
        client=client,
        body=models.JobIn(
            name=f"generated-{datetime.now(UTC):%H%M%S%f}",
            task="echo",
            schedule="0 2 * * *",
            description="keep me",
            timeout_seconds=60,
            overlap=models.JobInOverlap.SKIP,
        ),
    )
    assert created.status_code == 201, created.content
    job_id = created.parsed.id
    paused = _operation(native, "post_v1_jobs_job_id_pause").sync(job_id, client=client)
    assert paused.enabled is False

    patched = _operation(native, "patch_v1_jobs_job_id").sync_detailed(
        job_id, client=client, body=models.JobPatch(schedule="0 3 * * *")
    )
    assert patched.status_code == 200, patched.content

    job = _operation(native, "get_v1_jobs_job_id").sync(job_id, client=client)
    assert job.schedule == "0 3 * * *"
    assert job.enabled is False  # still paused
    assert job.next_run_at is None
    assert job.description == "keep me"
    assert job.timeout_seconds == 60
    assert job.overlap == "skip"


def test_the_generated_client_sends_the_documented_filters_as_the_api_takes_them(native):
    """A generated client sends ``name``, ``since`` and ``until`` as the document types them
    (``since`` as ``datetime.isoformat()``, with ``+00:00``); none of them is a 400."""
    client = native.client
    name = f"filtered-{datetime.now(UTC):%H%M%S%f}"
    _operation(native, "post_v1_jobs").sync(
        client=client, body=native.models.JobIn(name=name, task="echo", schedule="0 2 * * *")
    )
    jobs = _operation(native, "get_v1_jobs").sync(client=client, name=name[:-3], limit=100)
    assert [j.name for j in jobs.items] == [name]
    run = _operation(native, "post_v1_tasks").sync(
        client=client, body=native.models.TaskIn(task="echo")
    )
    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    runs = _operation(native, "get_v1_tasks").sync(
        client=client, since=now - hour, until=now + hour, limit=100
    )
    assert run.id in [r.id for r in runs.items]
    later = _operation(native, "get_v1_tasks").sync(client=client, since=now + hour)
    assert later.items == []
