"""A function never runs against an older AWS SDK than the code needs (issue 19): importing the
app with one fails at once, naming the versions found and needed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import sdk

ROOT = Path(__file__).resolve().parents[1]


def _fake_sdk(tmp_path: Path, **versions: str) -> Path:
    """Packages named boto3/botocore that are only their ``__version__``: found first on
    ``sys.path``, as the Lambda runtime's own copy would be without the layer."""
    for name, version in versions.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"__version__ = '{version}'\n")
    return tmp_path


def _import_app(path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(path), "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_needs_are_the_pins_of_requirements_txt():
    pins = dict(
        re.findall(r"^(boto3|botocore)==([\w.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    )
    assert pins["boto3"] == sdk.NEEDS["boto3"]
    assert sdk.NEEDS["botocore"] >= pins.get("botocore", sdk.NEEDS["boto3"])


def test_the_installed_sdk_passes():
    assert sdk.problems() == []


def test_an_older_sdk_stops_the_import_naming_found_and_needed_versions(tmp_path):
    done = _import_app(_fake_sdk(tmp_path, boto3="1.34.145", botocore="1.34.145"))
    assert done.returncode != 0
    assert "SdkTooOld" in done.stderr
    assert f"boto3 >= {sdk.NEEDS['boto3']} is needed; found 1.34.145" in done.stderr
    assert f"botocore >= {sdk.NEEDS['botocore']} is needed; found 1.34.145" in done.stderr
    assert "docs/deploy.md" in done.stderr


def test_only_botocore_older_is_enough_to_stop(tmp_path):
    done = _import_app(_fake_sdk(tmp_path, botocore="1.44.4"))
    assert done.returncode != 0
    assert "botocore >= 1.44.5 is needed; found 1.44.4" in done.stderr
    assert "boto3 >=" not in done.stderr  # the real boto3 of the venv is recent enough


@pytest.mark.parametrize(
    ("found", "needed", "is_older"),
    [
        ("1.44.5", "1.44.5", False),
        ("1.44.10", "1.44.5", False),
        ("1.45.0", "1.44.5", False),
        ("1.44.5rc1", "1.44.5", False),
        ("1.44.4", "1.44.5", True),
        ("1.9.99", "1.44.5", True),
    ],
)
def test_versions_compare_as_numbers(found, needed, is_older):
    assert sdk.older(found, needed) is is_older


def test_a_missing_sdk_is_named(monkeypatch):
    monkeypatch.setattr(sdk.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(sdk.SdkTooOld, match=r"botocore >= 1\.44\.5 is needed and none was found"):
        sdk.require()
