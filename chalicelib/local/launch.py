"""Start ``make run``'s runtime as a child process on free loopback ports, and talk to it.

For the end-to-end tests and the benchmarks, which need a real stack they can stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The admin key the launched stack is given (BEATLESS_API_KEY), which ``call`` sends.
LOCAL_KEY = "bl_local-stack-admin-key"


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = LOCAL_KEY,
    timeout: float = 10,
) -> tuple[int, Any]:
    """One HTTP request to the local API; returns (status, decoded JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _serving(process: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    """Whether ``process`` serves on ``port``; False if it exited first (its port was taken)."""
    while process.poll() is None:
        try:
            if call(port, "GET", "/v1/status")[0] == 200:
                time.sleep(0.3)  # an answer from another server on that port: ours exits
                return process.poll() is None
        except (OSError, ValueError):  # not listening yet, or not us (a non-JSON answer)
            pass
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError("the local runtime did not start in time")
        time.sleep(0.2)
    return False


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    port: int
    moto_port: int


@contextmanager
def launched(
    output: IO[str],
    timeout: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[Stack]:
    """The runtime on free ports, its output to ``output`` (a file: a full pipe would stall it);
    killed on exit if still running. Raises RuntimeError if it is not serving in time.
    ``env`` adds variables (``BEATLESS_TASK_MODULES``; ``BEATLESS_STATE_DIR`` to keep the state
    across launches, else each launch has its own, removed after); ``cwd`` is the checkout."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BEATLESS_"))}
    environ["BEATLESS_API_KEY"] = LOCAL_KEY
    scratch = None
    if "BEATLESS_STATE_DIR" not in (env or {}):  # its own state, never the checkout's
        scratch = tempfile.mkdtemp(prefix="beatless-state-")
        environ["BEATLESS_STATE_DIR"] = scratch
    environ.update(env or {})
    deadline = time.monotonic() + timeout
    # A port found free may be taken by another process before the runtime binds it (parallel
    # test workers): the runtime then exits, and it is started again on other ports.
    for _attempt in range(3):
        port, moto_port = free_port(), free_port()
        environ.update(PORT=str(port), MOTO_PORT=str(moto_port))
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local.runtime"],
            cwd=cwd,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        if _serving(process, port, deadline):
            break
    else:
        raise RuntimeError("the local runtime did not start")
    try:
        yield Stack(process, port, moto_port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
