"""Deployment package size (zipped and unzipped) and its top contributors, as the deploy builds
it: ``chalice package``, the user's task modules added, the AWS SDK split into the layer
(``infra/package.py``). The function package is what every cold start downloads and unpacks."""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = 8


def contributors(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """Zipped and unzipped bytes by top-level name (a distribution's metadata counted apart),
    and the number of files."""
    zipped: Counter[str] = Counter()
    unzipped: Counter[str] = Counter()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        for info in infos:
            top = info.filename.removeprefix("python/").split("/", 1)[0]
            if top.endswith((".dist-info", ".data")):
                top = "(distributions' metadata)"
            zipped[top] += info.compress_size
            unzipped[top] += info.file_size
    return zipped, unzipped, len(infos)


def rows_of(label: str, path: Path, top: int) -> list[str]:
    zipped, unzipped, files = contributors(path)
    size = path.stat().st_size
    rows = [
        f"| {label} | {size / 1e6:.1f} MB | {sum(unzipped.values()) / 1e6:.1f} MB | {files:,} |"
    ]
    for name, part in zipped.most_common(top):
        rows.append(
            f"| of which `{name}` | {part / 1e6:.2f} MB ({part / size:.0%}) "
            f"| {unzipped[name] / 1e6:.2f} MB | |"
        )
    return rows


def run() -> list[str]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from infra.package import SDK_LAYER, package

    with tempfile.TemporaryDirectory() as out:
        package(out)
        rows = ["| package (as deployed) | zipped | unzipped | files |", "|---|---|---|---|"]
        rows += rows_of("deployment.zip (every function's code)", Path(out) / "deployment.zip", TOP)
        rows += rows_of(
            f"{SDK_LAYER} (the AWS SDK: a layer of every function)", Path(out) / SDK_LAYER, 3
        )
    return rows


if __name__ == "__main__":
    print("\n".join(run()))
