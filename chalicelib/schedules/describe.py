"""English descriptions of schedules, for previews and job bodies."""

from __future__ import annotations

from chalicelib.schedules.cron import MONTHS, RANGES, WEEKDAYS, CronSpec
from chalicelib.schedules.durations import format_instant, format_seconds
from chalicelib.schedules.spec import ScheduleSpec

_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def describe(spec: ScheduleSpec) -> str:
    """One sentence: what fires when, in which zone, and what bounds it."""
    if spec.kind == "once":
        assert spec.due_at is not None
        return f"once at {format_instant(spec.due_at)}"
    if spec.kind == "interval":
        assert spec.every is not None
        text = (
            spec.render()
            if spec.source == "interval"
            else "every " + format_seconds(spec.every.total_seconds())
        )
    else:
        assert spec.cron is not None
        text = _describe_cron(spec.cron) + f" ({spec.timezone})"
    extras = []
    if spec.due_at is not None:
        extras.append(f"first at {format_instant(spec.due_at)}")
    if spec.start_at is not None:
        extras.append(f"from {format_instant(spec.start_at)}")
    if spec.end_at is not None:
        extras.append(f"until {format_instant(spec.end_at)}")
    if spec.repeats is not None:
        extras.append(f"at most {spec.repeats} time{'s' if spec.repeats != 1 else ''}")
    return ", ".join([text, *extras])


def _list(values: frozenset[int], names: tuple[str, ...] | None = None, offset: int = 0) -> str:
    ordered = sorted(values)
    words = [names[v - offset] if names else str(v) for v in ordered]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _full(values: frozenset[int], name: str) -> bool:
    low, high = RANGES[name]
    return values == frozenset(range(low, high + 1))


def _describe_cron(cron: CronSpec) -> str:
    if cron.has_specials:
        return f"EventBridge cron({cron.text})"
    parts: list[str] = []
    sub_minute = cron.seconds != frozenset({0})
    if len(cron.hours) == 1 and len(cron.minutes) == 1 and not sub_minute:
        parts.append(f"at {min(cron.hours):02d}:{min(cron.minutes):02d}")
    else:
        if sub_minute:
            parts.append(
                "every second"
                if _full(cron.seconds, "second")
                else f"at second {_list(cron.seconds)}"
            )
        if _full(cron.minutes, "minute"):
            parts.append("every minute" if not sub_minute else "of every minute")
        else:
            parts.append(f"at minute {_list(cron.minutes)}")
        parts.append(
            "of every hour" if _full(cron.hours, "hour") else f"past hour {_list(cron.hours)}"
        )
    days: list[str] = []
    if not cron.dom_full:
        days.append(f"on day {_list(cron.days_of_month)} of the month")
    if not cron.dow_full:
        days.append(f"on {_list(cron.days_of_week, _DAY_NAMES)}")
    joiner = " or " if cron.day_mode == "or" else " and "
    if days:
        parts.append(joiner.join(days))
    if not _full(cron.months, "month_of_year"):
        parts.append(f"in {_list(cron.months, tuple(m.capitalize() for m in MONTHS), 1)}")
    return " ".join(parts)


__all__ = ["WEEKDAYS", "describe"]
