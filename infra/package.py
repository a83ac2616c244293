"""The user's task modules in the deployment package.

Chalice packages ``app.py``, ``chalicelib/``, ``vendor/`` and the distributions of
``requirements.txt``, nothing else; the user's ``tasks/`` (or any project package named in
``BEATLESS_TASK_MODULES``) lives beside them, and beatless never edits it. So the deploy adds
those packages to the zip ``chalice package`` made, at its root, where Lambda's ``sys.path``
finds them under the same names as ``make run`` does. Installed distributions are left to
``requirements.txt``, which Chalice already packages. Nothing is written into the project (no
copy in ``vendor/`` to go stale) and Chalice's dependency cache is untouched.

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
        add_user_tasks(Path(self._sam_package_dir) / "deployment.zip", Path(self.source_dir))


def package(out_dir: str, stage: str = "dev") -> list[str]:
    """``chalice package`` into ``out_dir``, then the user's task modules into its zip."""
    from chalice import api

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # as infra/app.py: offline
    api.package_app(project_dir=str(ROOT), output_dir=out_dir, stage=stage)
    return add_user_tasks(Path(out_dir) / "deployment.zip")


def main(argv: list[str]) -> Any:
    added = package(*argv[1:3])
    print(f"{argv[1]}/deployment.zip: the app, its requirements and {len(added)} task files")
    for name in added:
        print(f"  {name}")


if __name__ == "__main__":
    main(sys.argv)
