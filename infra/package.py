"""The user's task modules in the deployment package.

Chalice packages ``app.py``, ``chalicelib/``, ``vendor/`` and the distributions of
``requirements.txt``, nothing else; the user's ``tasks/`` (or any project package named in
``BEATLESS_TASK_MODULES``) lives beside them, and beatless never edits it. So the deploy adds
those packages to the zip ``chalice package`` made, at its root, where Lambda's ``sys.path``
finds them under the same names as ``make run`` does. Installed distributions are left to
``requirements.txt``, which Chalice already packages. Nothing is written into the project (no
copy in ``vendor/`` to go stale) and Chalice's dependency cache is untouched.

The AWS SDK (boto3, botocore and what they alone need) is taken out of that zip into a second
one, ``sdk-layer.zip``, that the stack deploys as a Lambda layer of every function
(``split_sdk``): the same pinned versions Chalice downloaded, nothing fetched twice, and the
function's own package four times smaller (botocore alone was two thirds of it). The layer
comes before the runtime's own boto3 on ``sys.path``; ``chalicelib/sdk.py`` refuses to start
with an older one (docs/deploy.md, "The AWS SDK").

``make package`` is ``chalice package`` with them: ``python -m infra.package OUT_DIR [STAGE]``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from chalice.cdk import Chalice

from chalicelib.settings import get_settings
from chalicelib.tasks.registry import is_installed

ROOT = Path(__file__).resolve().parents[1]
#: The distributions of the SDK layer: boto3 and everything it depends on that nothing else in
#: the package needs (PynamoDB needs botocore, which the layer provides).
SDK_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python_dateutil",
    "six",
)
SDK_LAYER = "sdk-layer.zip"


def user_task_files(root: Path = ROOT) -> dict[str, Path]:
    """Path in the zip → file, for every file of the project packages holding the user's task
    modules (a module's whole top-level package: its helpers and data files go too)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    files: dict[str, Path] = {}
    for top in sorted({m.partition(".")[0] for m in get_settings().task_modules}):
        spec = None if is_installed(top) else importlib.util.find_spec(top)
        if spec is None:
            continue  # an installed distribution (requirements.txt), or the absent default
        if not spec.submodule_search_locations:
            files[f"{top}.py"] = Path(str(spec.origin))
        for location in spec.submodule_search_locations or []:
            for path in sorted(Path(location).rglob("*")):
                if path.is_file() and not _left_out(path):
                    files[f"{top}/{path.relative_to(location).as_posix()}"] = path
    return files


def _left_out(path: Path) -> bool:
    """Caches and the package's own tests (which the registry does not import either)."""
    tests = path.suffix == ".py" and (path.name.startswith("test") or path.name == "conftest.py")
    return "__pycache__" in path.parts or path.suffix == ".pyc" or tests


def add_user_tasks(deployment_zip: Path, root: Path = ROOT) -> list[str]:
    """Append the user's task packages to a zip made by ``chalice package``; their names."""
    files = user_task_files(root)
    with zipfile.ZipFile(deployment_zip, "a", zipfile.ZIP_DEFLATED) as archive:
        present = set(archive.namelist())
        for name, path in files.items():
            if name in present:
                raise ValueError(f"{name} is already in the package: rename your task module")
            archive.write(path, name)
    return sorted(files)


def sdk_files(archive: zipfile.ZipFile) -> set[str]:
    """The names in ``archive`` that belong to the SDK's distributions, by their RECORD files
    (what pip installed for each, exactly)."""
    names: set[str] = set()
    for name in archive.namelist():
        top, _, rest = name.partition("/")
        if rest == "RECORD" and top.endswith(".dist-info"):
            distribution = top.removesuffix(".dist-info").rsplit("-", 1)[0]
            if distribution.lower() in SDK_DISTRIBUTIONS:
                for line in archive.read(name).decode().splitlines():
                    if path := line.split(",", 1)[0]:
                        names.add(path)
    return names & set(archive.namelist())


def split_sdk(deployment_zip: Path, layer_zip: Path) -> list[str]:
    """Move the SDK out of ``deployment_zip`` into ``layer_zip`` (under ``python/``, where Lambda
    finds a layer's Python packages); the top-level names moved."""
    kept = deployment_zip.with_suffix(".tmp")
    with (
        zipfile.ZipFile(deployment_zip) as source,
        zipfile.ZipFile(kept, "w", zipfile.ZIP_DEFLATED) as function,
        zipfile.ZipFile(layer_zip, "w", zipfile.ZIP_DEFLATED) as layer,
    ):
        moved = sdk_files(source)
        for info in source.infolist():
            data = source.read(info)
            if info.filename in moved:
                info.filename = f"python/{info.filename}"
                layer.writestr(info, data)
            else:
                function.writestr(info, data)
    kept.replace(deployment_zip)
    return sorted({name.split("/", 1)[0] for name in moved})


def task_module_environment() -> dict[str, str]:
    """``BEATLESS_TASK_MODULES`` for the functions, when the deploy names it (else the default
    applies there as here: the package ``tasks`` if there is one)."""
    settings = get_settings()
    return (
        {"BEATLESS_TASK_MODULES": ",".join(settings.task_modules)}
        if (settings.task_modules_required)
        else {}
    )


class ChaliceWithUserTasks(Chalice):
    """Chalice's CDK construct, whose package also holds the user's task modules."""

    def _package_app(self) -> None:
        super()._package_app()
        out = Path(self._sam_package_dir)
        add_user_tasks(out / "deployment.zip", Path(self.source_dir))
        split_sdk(out / "deployment.zip", out / SDK_LAYER)

    @property
    def sdk_layer_zip(self) -> Path:
        """The SDK layer's zip, made with the package (``split_sdk``)."""
        return Path(self._sam_package_dir) / SDK_LAYER


def package(out_dir: str, stage: str = "dev") -> list[str]:
    """``chalice package`` into ``out_dir``, then the user's task modules into its zip and the
    SDK out of it, into ``sdk-layer.zip`` beside it."""
    from chalice import api

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # as infra/app.py: offline
    api.package_app(project_dir=str(ROOT), output_dir=out_dir, stage=stage)
    added = add_user_tasks(Path(out_dir) / "deployment.zip")
    split_sdk(Path(out_dir) / "deployment.zip", Path(out_dir) / SDK_LAYER)
    return added


def main(argv: list[str]) -> Any:
    added = package(*argv[1:3])
    print(f"{argv[1]}/deployment.zip: the app, its requirements and {len(added)} task files")
    print(f"{argv[1]}/{SDK_LAYER}: the AWS SDK, for the functions' layer")
    for name in added:
        print(f"  {name}")


if __name__ == "__main__":
    main(sys.argv)
