"""The task registry: what a job or a run may execute, registered with a decorator.

beatless's own tasks register when ``chalicelib.tasks`` is imported. The user's task modules
(``BEATLESS_TASK_MODULES``; by default the package ``tasks`` if there is one) are imported on the
registry's first use, not when the app is imported (cold start), once per process, into a section
of their own: ``make run`` re-imports them when their files change and swaps the section whole,
so a half-written file never leaves half a set of tasks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import sys
import sysconfig
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from chalicelib.errors import BeatlessError, InvalidRequest
from chalicelib.settings import get_settings
from chalicelib.vocabulary import Queue

QUEUES = tuple(Queue)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class TaskDef:
    name: str
    func: Callable[..., Any]
    queue: str
    doc: str
    schedulable: bool
    #: The user task module that registered it (BEATLESS_TASK_MODULES); None for beatless's own.
    module: str | None = None

    def check_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any], at: str = "") -> None:
        """Refuse what ``func(ctx, *args, **kwargs)`` could not be called with, when a job or a
        run is made rather than as a TypeError when it runs: an InvalidRequest naming the field
        (``args`` or ``kwargs``, under ``at``: ``steps.2.kwargs``) and Python's own rule."""
        try:
            signature = inspect.signature(self.func)
        except (TypeError, ValueError):  # no signature to check against: the run will tell
            return
        params = list(signature.parameters.values())
        ctx = params.pop(0) if params and params[0].kind in _POSITIONAL else None
        signature = signature.replace(parameters=params)
        where = f"{at}." if at else ""
        try:
            signature.bind_partial(*args)
        except TypeError as error:
            raise InvalidRequest(f"{where}args", str(error)) from None
        if (
            ctx is not None
            and ctx.kind is not inspect.Parameter.POSITIONAL_ONLY
            and ctx.name in kwargs
        ):
            raise InvalidRequest(f"{where}kwargs", f"multiple values for argument {ctx.name!r}")
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:  # an unknown or repeated keyword, or a missing argument
            raise InvalidRequest(f"{where}{'kwargs' if kwargs else 'args'}", str(error)) from None


class TaskModuleError(BeatlessError):
    """A user task module could not be imported (or registered a name it may not): raised by
    every use of the registry rather than leaving its tasks silently missing."""

    code = "task_module_error"


def configured_modules() -> tuple[tuple[str, ...], bool]:
    """The user's task modules, and whether each must exist (named explicitly) or may be
    absent (the default package ``tasks`` of a checkout that has none)."""
    settings = get_settings()
    return settings.task_modules, settings.task_modules_required


def is_installed(top: str) -> bool:
    """Whether a top-level package comes from site-packages or the standard library (it never
    changes under a running process, so it is never re-imported), or is beatless itself."""
    if top in ("chalicelib", "app"):
        return True
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    origins = [*([spec.origin] if spec.origin else []), *(spec.submodule_search_locations or [])]
    paths = sysconfig.get_paths()
    roots = tuple(paths[k] for k in ("purelib", "platlib", "stdlib", "platstdlib"))
    return (
        not origins
        or spec.origin in ("built-in", "frozen")
        or all(o.startswith(roots) for o in origins)
    )


def _import_named(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except Exception as error:
        raise TaskModuleError(
            f"task module {module!r} (BEATLESS_TASK_MODULES) failed to import: "
            f"{type(error).__name__}: {error}",
            {"module": module},
        ) from error


def _import_tree(module: str) -> None:
    imported = _import_named(module)
    for found in pkgutil.iter_modules(getattr(imported, "__path__", []), f"{module}."):
        if not found.name.rpartition(".")[2].startswith(("_", "test")):
            _import_tree(found.name)


def _project_tops(modules: Sequence[str]) -> set[str]:
    """The top-level packages of user modules that live in the project (not installed
    distributions): what a reload re-imports whole, so a changed helper module is new too."""
    return {top for top in {m.partition(".")[0] for m in modules} if not is_installed(top)}


def _take_modules(tops: set[str]) -> dict[str, ModuleType]:
    """Take every module of these top-level packages out of sys.modules; returns them."""
    gone = {n: m for n, m in list(sys.modules.items()) if n.partition(".")[0] in tops}
    for name in gone:
        del sys.modules[name]
    importlib.invalidate_caches()
    return gone


def _claim(tasks: dict[str, TaskDef], module: str) -> None:
    """Put in ``module``'s section the tasks it registered when something imported it before
    the registry loaded it (a user's test importing its task function first)."""
    for name, definition in list(tasks.items()):
        origin = definition.func.__module__
        if definition.module is None and (origin == module or origin.startswith(f"{module}.")):
            tasks[name] = dataclasses.replace(definition, module=module)


class TaskRegistry:
    """Name → task. One module-level instance (``registry``) is what the app and worker use."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskDef] = {}
        self._lock = threading.RLock()
        self._staged: dict[str, TaskDef] | None = None  # the section being imported
        self._loading: str | None = None  # the user module being imported
        self._loader: int | None = None  # the thread importing it
        self._loaded = False
        self._error: TaskModuleError | None = None
        self._modules: tuple[str, ...] = ()

    def register(
        self, name: str | None = None, *, queue: str = "default", schedulable: bool = True
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``func(ctx, *args, **kwargs)`` under ``name`` (default: the function name)."""
        if queue not in QUEUES:
            raise ValueError(f"queue must be one of {QUEUES}, not {queue!r}")

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            task_name = name or func.__name__
            with self._lock:
                target = self._staged if self._staged is not None else self._tasks
                taken = target.get(task_name)
                if taken is not None and taken.module is None and self._loading:
                    raise ValueError(
                        f"task {task_name!r} is a built-in task of beatless; choose another name"
                    )
                if taken is not None:
                    by = f" by module {taken.module!r}" if taken.module else ""
                    raise ValueError(f"task {task_name!r} is already registered{by}")
                doc = (inspect.getdoc(func) or "").strip().splitlines()
                target[task_name] = TaskDef(
                    task_name, func, queue, doc[0] if doc else "", schedulable, self._loading
                )
            return func

        return decorator

    def get(self, name: str) -> TaskDef | None:
        self._ensure_loaded()
        return self._tasks.get(name)

    def all(self) -> list[TaskDef]:
        self._ensure_loaded()
        return sorted(self._tasks.values(), key=lambda t: t.name)

    def find(self, func: Callable[..., Any]) -> TaskDef | None:
        """The task a decorated function was registered as (``chalicelib.testing.apply``), also
        if its module was re-imported since (same module and qualified name)."""
        where = (getattr(func, "__module__", None), getattr(func, "__qualname__", None))
        return next(
            (
                t
                for t in self.all()
                if t.func is func or (t.func.__module__, t.func.__qualname__) == where
            ),
            None,
        )

    # -- user task modules -------------------------------------------------------------------

    @property
    def user_modules(self) -> tuple[str, ...]:
        """The user modules imported by the last successful load (what ``make run`` watches)."""
        return self._modules

    def _ensure_loaded(self) -> None:
        if not self._loaded and self._loader != threading.get_ident():
            with self._lock:
                if not self._loaded:
                    # A failure is kept in self._error: raised below and on every later use.
                    with contextlib.suppress(TaskModuleError):
                        self.load_user_modules()
        if self._error is not None:
            raise self._error

    def load_user_modules(self) -> tuple[str, ...]:
        """(Re-)import the user's task modules into a fresh section, replacing the previous
        section only if every module imports. On a failure the previous section stays (a
        reload under ``make run`` keeps serving the last good code) and TaskModuleError, naming
        the module, is raised; with no previous good load, every use of the registry raises it.
        """
        names, required = configured_modules()
        with self._lock:
            reload = self._loaded
            tops = _project_tops((*names, *self._modules))
            purged = _take_modules(tops) if reload else {}
            staged = {n: t for n, t in self._tasks.items() if t.module is None}
            loaded: list[str] = []
            self._staged, self._loader = staged, threading.get_ident()
            try:
                for module in names:
                    self._loading = module
                    if self._import(module, required):
                        loaded.append(module)
                        _claim(staged, module)
            except TaskModuleError as error:
                _take_modules(tops)  # the half-imported new code: imported afresh next time
                sys.modules.update(purged)  # the last good code, as it was
                if not (reload and self._error is None):
                    self._error = error
                self._loaded = True
                raise
            finally:
                self._staged = self._loading = self._loader = None
            self._tasks, self._modules = staged, tuple(loaded)
            self._error, self._loaded = None, True
            return self._modules

    def unload_user_modules(self) -> None:
        """Drop the user's tasks and forget the load: the next use imports them afresh (tests
        that change BEATLESS_TASK_MODULES)."""
        with self._lock:
            _take_modules(_project_tops((*configured_modules()[0], *self._modules)))
            self._tasks = {n: t for n, t in self._tasks.items() if t.module is None}
            self._loaded, self._error, self._modules = False, None, ()

    def _import(self, module: str, required: bool) -> bool:
        """Import a module; a package, with every module in it (drop a file into ``tasks/``
        and it is found), but for ``_private`` and ``test*`` ones."""
        if not required and importlib.util.find_spec(module) is None:
            return False
        _import_tree(module)
        return True


registry = TaskRegistry()
task = registry.register
