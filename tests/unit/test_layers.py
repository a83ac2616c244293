"""The layering the design asks for, checked on the source (issue 13, "Shape")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.api.errors import HTTP_STATUS, http_status
from chalicelib.schedules import errors as schedule_errors

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
FACES = sorted((ROOT / "api").glob("*.py"))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", FACES, ids=lambda p: p.name)
def test_faces_never_import_storage(path):
    """A face parses, calls one service operation and shapes the answer: the records it
    shapes come through chalicelib.records, and it never reaches DynamoDB itself."""
    touched = {m for m in _imports(path) if m.startswith(("chalicelib.storage", "pynamodb"))}
    assert touched == set()


def test_domain_errors_carry_no_http_status():
    """HTTP statuses are mapped once, at the edge (chalicelib.api.errors)."""
    domain = [
        value
        for module in (errors, schedule_errors)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert domain and not [cls for cls in domain if "status" in vars(cls)]


def test_every_domain_error_has_an_http_status():
    mapped = {
        cls: http_status(cls.__new__(cls))
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.BeatlessError)
    }
    unmapped = [cls.__name__ for cls, status in mapped.items() if status == 500]
    assert unmapped == ["BeatlessError"]  # only the abstract base
    assert mapped[errors.Unprocessable] == 422 and mapped[errors.PayloadTooLarge] == 413
    assert set(HTTP_STATUS) <= set(mapped)
