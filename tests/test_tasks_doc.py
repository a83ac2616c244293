"""docs/tasks.md as a new user follows it, in a fresh copy of the checkout: every shell block
pasted into bash against a real ``make run`` (issue 14)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib.local.launch import LOCAL_KEY, launched

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "tasks.md").read_text()

pytestmark = pytest.mark.slow


def test_the_example_in_the_doc_is_the_file_the_tests_run():
    (shown,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    assert shown == (ROOT / "examples" / "tasks" / "reports.py").read_text()


#: What a fresh clone does not have (ignored, generated, or the user's own tasks/ of this one).
LEFT_OUT = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".schemathesis",
    ".run",
    "cdk.out",
    "chalice.out",
    "deployments",
    "node_modules",
}


def fresh_checkout(into: Path) -> Path:
    """The checkout as a clone would have it, with this checkout's virtualenv and Chalice's
    dependency cache (no download in the test)."""

    def left_out(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == ROOT
        return {n for n in names if n in LEFT_OUT or n.endswith(".pyc") or (top and n == "tasks")}

    shutil.copytree(ROOT, into, ignore=left_out, symlinks=True)
    (into / ".venv").symlink_to(ROOT / ".venv")
    if (ROOT / ".chalice" / "deployments").is_dir():
        (into / ".chalice" / "deployments").symlink_to(ROOT / ".chalice" / "deployments")
    return into


@pytest.mark.skipif(shutil.which("curl") is None, reason="the doc uses curl")
def test_docs_tasks_md_works_as_pasted(tmp_path):
    checkout = fresh_checkout(tmp_path / "beatless")
    assert not (checkout / "tasks").exists()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    log = tmp_path / "make-run.log"
    with log.open("w") as output, launched(output, cwd=checkout) as running:
        script = "\n".join(re.findall(r"```sh\n(.*?)```", DOC, flags=re.S))
        script = script.replace("127.0.0.1:8000", f"127.0.0.1:{running.port}")
        script = script.replace("/tmp/", f"{scratch}/")
        script = script.replace("BEATLESS_API_KEY=local-admin", f"BEATLESS_API_KEY={LOCAL_KEY}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BEATLESS_"))}
        env.pop("PYTHONPATH", None)
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    out = done.stdout
    assert done.returncode == 0, done.stderr + out + log.read_text()
    assert "1 passed" in out  # the in-process test
    assert '"name":"reports.daily"' in out  # make run found the new package
    assert '"greeting":"Hello, ops","items":["ops-1","ops-2"]' in out  # it ran on schedule
    assert "kwargs: got an unexpected keyword argument 'itmes'" in out
    assert '"greeting":"Bonjour, ops"' in out  # the changed code, without a restart
    assert "204" in out  # the job deleted
    listing = out.rpartition("deployment.zip")[2]
    assert "tasks/reports.py" in listing  # in the deployment package
    assert "tasks/test_reports.py" not in listing
    runtime = log.read_text()
    assert "task modules reloaded: tasks (tasks: reports.daily)" in runtime
