"""The README's walk-through, pasted into a shell as written, against a real ``make run``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib.local.launch import LOCAL_KEY

ROOT = Path(__file__).resolve().parents[1]


def _shell_blocks(section_start: str, section_end: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(section_start) : text.index(section_end)]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, flags=re.S))


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_readme_walk_through_works_as_pasted(stack, tmp_path):
    _, port, moto_port = stack
    script = _shell_blocks("## A walk through with curl", "## Layout")
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    script = script.replace("127.0.0.1:5000", f"127.0.0.1:{moto_port}")
    script = script.replace("/tmp/", f"{tmp_path}/")
    script = script.replace("BEATLESS_API_KEY=local-admin", f"BEATLESS_API_KEY={LOCAL_KEY}")
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        env={**os.environ, "MOTO_PORT": str(moto_port)},  # for the CLI's --local
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert '"service":"beatless"' in out
    assert "cron(0 9 ? * 2-6 *)" in out  # preview and creation
    assert '"enabled":false' in out  # pause
    assert "cron(0/15 * * * ? *)" in out  # the PATCH
    assert '"status":"SUCCEEDED","attempt":1' in out  # the due job fired
    assert '"status":"CANCELLED"' in out  # the sleep task, cancelled while running
    assert "crontab.minute: 61 is out of range 0-59" in out
    assert "beatless-jobs" in out  # the AWS CLI sees the tables
    assert '"tenant": "acme"' in out  # the keys CLI
    assert out.rstrip().endswith("204")  # the delete
