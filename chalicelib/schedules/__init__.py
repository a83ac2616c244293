"""Pure schedule code: parse every accepted form, compute fire times, translate to EventBridge."""

from chalicelib.schedules.describe import describe
from chalicelib.schedules.errors import NoEquivalentError, ScheduleError
from chalicelib.schedules.eventbridge import PlannedSchedule, path, plan, recurring_expressions
from chalicelib.schedules.spec import ScheduleSpec, parse_spec

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
