"""Helpers for the console's browser tests: Debian's Chromium driven by Playwright, a ``make
run`` stack, screenshots. Imported by the test module (kept out of conftest: only it needs them)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.launch import LOCAL_KEY, call

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("BEATLESS_CHROMIUM", "/usr/bin/chromium"))
#: Every test's screenshots (git-ignored); docs/console/ holds the committed copies, refreshed
#: only with BEATLESS_UPDATE_SCREENSHOTS=1 so the suite never changes tracked files.
SHOTS = ROOT / "build" / "console-screenshots"
DOC_SHOTS = ROOT / "docs" / "console"
TASKS = "tests.console.console_tasks"


def require_browser() -> Any:
    """Playwright's sync API, or a skip (a failure under CI, which installs Chromium)."""
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "playwright is not installed (make venv installs it)"
    if why is None and not CHROMIUM.exists():
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium, as .ci/run does)"
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return sync_playwright


#: The screenshots docs/console.md shows (one per page); the others stay under build/.
IN_THE_DOCS = {"key-prompt", "jobs", "job", "run", "playground", "keys", "jobs-375"}


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """The page as it looks now, under build/; copied to docs/console/ when asked to."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("BEATLESS_UPDATE_SCREENSHOTS") == "1" and name in IN_THE_DOCS:
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SHOTS / path.name)
    return path


def api(port: int, method: str, path: str, body: Any = None, key: str | None = LOCAL_KEY) -> Any:
    status, answer = call(port, method, path, body, key=key, timeout=30)  # a loaded CI machine
    assert status < 300, (method, path, status, answer)
    return answer


def until(what: Callable[[], Any], describe: str, deadline: float = 60) -> Any:
    """Poll ``what`` until it answers something truthy; a generous deadline only catches a hang."""
    end = time.monotonic() + deadline
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {describe}")
        time.sleep(0.2)


def sign_in(page: Any, port: int, route: str = "", key: str = LOCAL_KEY) -> None:
    """Open the console and type the key into its prompt, as a person does."""
    page.goto(f"http://127.0.0.1:{port}/console/{route}")
    page.locator("#key-input").fill(key)
    page.get_by_role("button", name="Use this key").click()
