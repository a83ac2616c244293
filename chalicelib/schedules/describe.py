"""English descriptions of schedules, for previews and job bodies.

Short sets read best spelled out ("at 09:00 on Monday and Friday"); steps, long ranges and
EventBridge's ``L``, ``W`` and ``#`` read best as cron-descriptor words them ("every 15 minutes,
between 09:00 and 17:59", "on the third Friday of the month"). cron-descriptor is imported only
when such a description is asked for (an API cold start never pays for it), and any expression
it cannot word falls back to the text below.
"""

from __future__ import annotations

from chalicelib.schedules.cron import MACROS, MONTHS, RANGES, WEEKDAYS, CronSpec
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
        text = _describe_cron(spec.cron, _dialect(spec)) + f" ({spec.timezone})"
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


def _dialect(spec: ScheduleSpec) -> str:
    if spec.aws_cron:
        return "aws"
    return "celery" if spec.source == "crontab" else "unix"


#: A time field with more values than this (and not every value) is worded by cron-descriptor.
_SPELLED_OUT = 3


def _worded_by_descriptor(cron: CronSpec) -> bool:
    if cron.has_specials:
        return True
    if cron.day_mode == "and" and not cron.dom_full and not cron.dow_full:
        return False  # cron-descriptor reads two restricted day fields as "or" (Vixie's rule)
    return any(
        len(values) > _SPELLED_OUT and not _full(values, name)
        for values, name in (
            (cron.seconds, "second"),
            (cron.minutes, "minute"),
            (cron.hours, "hour"),
        )
    )


def _quartz(cron: CronSpec, dialect: str) -> str:
    """The expression as cron-descriptor's 7 fields: second minute hour dom month dow year."""
    text = MACROS.get(cron.text.strip().lower(), cron.text).split()
    if dialect == "aws":  # minute hour dom month dow year
        return " ".join(["0", *text])
    if len(text) == 6:  # Dapr: seconds first
        return " ".join([*text, "*"])
    return " ".join(["0", *text, "*"])


def _descriptor_text(cron: CronSpec, dialect: str) -> str | None:
    from cron_descriptor import ExpressionDescriptor, Options  # lazily: see the module doc

    options = Options(
        locale_code="en_US",
        use_24hour_time_format=True,
        day_of_week_start_index_zero=dialect != "aws",  # EventBridge: Sunday = 1
    )
    try:
        text = ExpressionDescriptor(_quartz(cron, dialect), options).get_description()
    except Exception:  # any expression it cannot word: the plain text below serves
        return None
    return text[:1].lower() + text[1:] if text else None


def _describe_cron(cron: CronSpec, dialect: str = "unix") -> str:
    if _worded_by_descriptor(cron):
        worded = _descriptor_text(cron, dialect)
        if worded:
            return worded
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
