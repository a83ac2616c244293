"""The operator CLI's ``--local`` without a ``make run`` where it looks (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys

from chalicelib.local.launch import ROOT, free_port


def test_local_without_make_run_is_a_clear_error_naming_the_port():
    port = free_port()  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--local", "keys", "list", "--tenant", "t"],
        cwd=ROOT,
        env={**os.environ, "MOTO_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"error: no make run answers at http://127.0.0.1:{port} (MOTO_PORT" in done.stderr
    assert "Traceback" not in done.stderr
