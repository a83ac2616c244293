"""Deployment package size (zipped and unzipped) and what dominates it, from `chalice package`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as out:
        env = {
            **os.environ,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        }
        chalice = Path(sys.executable).with_name("chalice")
        subprocess.run(
            [str(chalice), "package", out], cwd=ROOT, env=env, check=True, capture_output=True
        )
        path = Path(out) / "deployment.zip"
        zipped = path.stat().st_size
        by_top: Counter[str] = Counter()
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                by_top[info.filename.split("/", 1)[0]] += info.file_size
            files = len(archive.infolist())
    unzipped = sum(by_top.values())
    total = f"{zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, {files:,} files"
    rows = ["| package | size |", "|---|---|", f"| deployment.zip | {total} |"]
    for name, size in by_top.most_common(5):
        rows.append(f"| of which `{name}` | {size / 1e6:.1f} MB ({size / unzipped:.0%}) |")
    return rows


if __name__ == "__main__":
    print("\n".join(run()))
