"""The ``stack`` fixtures: ``make run``'s runtime as a subprocess on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.local.launch import call, launched

__all__ = ["call", "shared_stack", "stack"]


def _running(log: Path) -> Iterator[tuple[Any, int, int]]:
    """The runtime logging to ``log``; its log is the failure message if it does not start."""
    with log.open("w") as output:
        try:
            with launched(output) as running:
                yield running.process, running.port, running.moto_port
        except RuntimeError:
            pytest.fail(log.read_text())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Any, int, int]]:
    yield from _running(tmp_path / "make-run.log")


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, int, int]]:
    """One running stack for a whole module (tests that tolerate each other's data)."""
    yield from _running(tmp_path_factory.mktemp("stack") / "make-run.log")
