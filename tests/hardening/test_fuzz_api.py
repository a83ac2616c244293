"""Schemathesis against each face's own OpenAPI document, on the running local stack.

Quick mode (``make test``): a few examples per operation with a fixed seed, every phase
(examples, coverage, fuzzing, stateful through the documents' links). The long mode is
``make fuzz`` (``BEATLESS_FUZZ_EXAMPLES=200``, a random seed): docs/operations.md.

Checks: all of schemathesis's, but

- ``positive_data_acceptance`` (a schema-valid request must not get a 4xx): the schemas cannot say
  which task names are registered, that one of crontab/schedule/interval/due_time is needed, that
  a cursor is opaque, or which cron expressions EventBridge can run; those answers are a 400/422
  naming the field, which is the right answer. Its mirror, ``negative_data_rejection`` (a
  schema-violating request must not succeed), stays on.
- on Vitam, ``missing_required_header``: without ``X-Tenant-Id`` Vitam answers 412 Precondition
  Failed (the seed's status), where schemathesis expects a 400.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from chalicelib.api.openapi import FACES
from chalicelib.local.launch import LOCAL_KEY
from tests.stack import call

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("BEATLESS_FUZZ_EXAMPLES", "5"))
SEED = os.environ.get("BEATLESS_FUZZ_SEED") or (
    "1" if EXAMPLES <= 5 else str(random.randrange(2**31))
)
EXCLUDED = {face: ["positive_data_acceptance"] for face in FACES}
EXCLUDED["vitam"].append("missing_required_header")
# DELETE /v1/tasks/{run_id} cancels a run, which stays readable with its CANCELLED status (as
# Celery's revoke and Temporal's cancel keep the record): schemathesis's stateful phase reads
# any DELETE as removal. Deleted jobs answering 404 is tested in tests/api/test_jobs_api.py.
EXCLUDED["native"].append("use_after_free")
ST = Path(sys.executable).with_name("st")


def test_every_face_serves_a_valid_openapi_document(shared_stack):
    _, port, _ = shared_stack
    status, index = call(port, "GET", "/openapi")
    assert status == 200
    assert set(index["faces"]) == set(FACES)
    for face, url in index["faces"].items():
        status, document = call(port, "GET", url)
        assert status == 200, document
        validate(document)
        assert document["info"]["title"] == f"beatless {face} API"
        assert document["paths"], face
    assert call(port, "GET", "/openapi/nope.json")[0] == 404


def _fixed_parameters(port: int, face: str) -> str:
    """Alteryx has no route that creates a workflow (a beatless job): give its path parameters
    real ids, made through the native face, so its operations are reached beyond a 404."""
    if face != "alteryx":
        return ""
    name = f"fuzz-workflow-{random.randrange(10**9)}"
    job = call(port, "POST", "/v1/jobs", {"name": name, "task": "echo", "schedule": "0 3 * * *"})
    run = call(port, "POST", f"/v1/jobs/{job[1]['id']}/trigger")
    assert job[0] == 201 and run[0] == 202, (job, run)
    return (
        f'[parameters]\n"path.workflow_id" = "{job[1]["id"]}"\n"path.job_id" = "{run[1]["id"]}"\n'
    )


@pytest.mark.parametrize("face", FACES)
def test_schemathesis_finds_no_failure(shared_stack, face, tmp_path):
    _, port, _ = shared_stack
    status, document = call(port, "GET", f"/openapi/{face}.json")
    assert status == 200
    schema = tmp_path / f"{face}.json"
    schema.write_text(json.dumps(document))
    config = tmp_path / "schemathesis.toml"
    config.write_text(_fixed_parameters(port, face))
    command = [
        str(ST),
        f"--config-file={config}",
        "run",
        str(schema),
        f"--url=http://127.0.0.1:{port}",
        f"--header=Authorization: Bearer {LOCAL_KEY}",
        "--header=X-Tenant-Id: default",
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}",
        "--checks=all",
        f"--exclude-checks={','.join(EXCLUDED[face])}",
        "--workers=1",
        "--generation-database=none",
        "--max-failures=20",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=tmp_path, check=False
    )
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    print(f"{face} (seed {SEED}, {EXAMPLES} examples per operation): {summary}")
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-5000:]
