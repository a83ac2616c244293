"""``make run``: re-import the user's task modules when their files change, without a restart
(the emulated AWS lives in memory: a restart would lose every job and run).

The API and the local worker run in this one process, on the one registry, so a reload reaches
both at once. The registry swaps the modules' section whole, and only when every module
imports: a file saved half-written logs its error and the last good code keeps running. Runs
already executing finish with the code they started with."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path

from chalicelib.tasks.registry import (
    TaskModuleError,
    TaskRegistry,
    configured_modules,
    is_installed,
)

log = logging.getLogger("local-runtime")


def watched_files(modules: tuple[str, ...]) -> dict[str, int]:
    """Path → mtime of every ``.py`` file of the modules' top-level packages in the project
    (installed distributions do not change). A module that does not exist yet counts as
    nothing, so creating ``tasks/`` under a running ``make run`` is a change too."""
    importlib.invalidate_caches()
    files: dict[str, int] = {}
    for top in sorted({m.partition(".")[0] for m in modules}):
        if is_installed(top):
            continue
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        paths: list[Path] = []
        for location in spec.submodule_search_locations or []:
            paths += Path(location).rglob("*.py")
        if spec.origin and not spec.submodule_search_locations:
            paths.append(Path(spec.origin))
        for path in paths:
            try:
                files[str(path)] = path.stat().st_mtime_ns
            except OSError:  # deleted meanwhile: the next poll sees it gone
                continue
    return files


class TaskModuleWatcher:
    """Load the user's task modules at start, then reload them when ``poll`` sees a change."""

    def __init__(self, registry: TaskRegistry) -> None:
        self._registry = registry
        self._seen: dict[str, int] = {}

    def start(self) -> None:
        self._seen = watched_files(configured_modules()[0])
        self._load("task modules")

    def poll(self) -> None:
        current = watched_files(configured_modules()[0])
        if current != self._seen:
            self._seen = current
            self._load("task modules reloaded")

    def _load(self, what: str) -> None:
        try:
            modules = self._registry.load_user_modules()
        except TaskModuleError as error:
            log.error("%s; fix the file and save it again", error.message)
            return
        names = ", ".join(t.name for t in self._registry.all() if t.module)
        log.info("%s: %s", what, f"{', '.join(modules)} (tasks: {names})" if modules else "none")
