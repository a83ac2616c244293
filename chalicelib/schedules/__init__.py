"""Pure schedule code: parse every accepted form, compute fire times, translate to EventBridge.

The names below load their module on first use (PEP 562): importing a light submodule
(``durations``, ``errors``: what every face's request parsing needs) does not compile the
cron, spec, describe and EventBridge code, which only a schedule's create or read uses
(the API's cold start, issue 19)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.schedules.describe import describe
    from chalicelib.schedules.errors import NoEquivalentError, ScheduleError
    from chalicelib.schedules.eventbridge import (
        PlannedSchedule,
        path,
        plan,
        recurring_expressions,
    )
    from chalicelib.schedules.spec import ScheduleSpec, parse_spec

#: Each public name and the submodule that defines it.
_HOMES = {
    "describe": "describe",
    "NoEquivalentError": "errors",
    "ScheduleError": "errors",
    "PlannedSchedule": "eventbridge",
    "path": "eventbridge",
    "plan": "eventbridge",
    "recurring_expressions": "eventbridge",
    "ScheduleSpec": "spec",
    "parse_spec": "spec",
}

__all__ = [
    "NoEquivalentError",
    "PlannedSchedule",
    "ScheduleError",
    "ScheduleSpec",
    "describe",
    "parse_spec",
    "path",
    "plan",
    "recurring_expressions",
]


def __getattr__(name: str) -> Any:
    """A public name, its submodule imported at the first use (then cached here)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
