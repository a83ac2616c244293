"""Durations and instants as users write them: Go durations, ISO 8601 durations, RFC 3339.

Pure functions; every error is a ``ScheduleError`` naming the field and the rule.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chalicelib.schedules.errors import ScheduleError

_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_ISO = re.compile(
    r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_ISO_CALENDAR = re.compile(r"P(?:\d+Y|\d+M(?!.*T)|\d+Y\d+M)")
#: EventBridge's year range: instants outside it can be neither scheduled nor shifted safely.
MIN_YEAR, MAX_YEAR = 1970, 2199
#: Far enough for any real schedule, small enough that datetime arithmetic cannot overflow.
MAX_DURATION = timedelta(days=366 * 100)


def parse_go_duration(text: str, field: str) -> timedelta:
    """Parse a Go duration (``300ms``, ``1h30m``, ``1.5h``). Negative and empty are refused."""
    raw = text.strip()
    if not raw:
        raise ScheduleError(field, "is empty; expected a duration such as 30s or 1h30m")
    if raw.startswith("-"):
        raise ScheduleError(field, f"{raw!r} is negative; a duration must be positive")
    pos, total = 0, 0.0
    raw = raw.lstrip("+")
    for match in _GO_PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or pos == 0:
        raise ScheduleError(
            field,
            f"{text!r} is not a Go duration (a sequence of number+unit, units ns us ms s m h, "
            "e.g. 30s or 1h30m)",
        )
    return _bounded(total, text, field)


def parse_iso_duration(text: str, field: str) -> timedelta:
    """Parse an ISO 8601 duration (``PT5M``, ``P1DT2H``, ``P2W``); years and months are refused
    because their length depends on the calendar, which a fixed delay cannot honour."""
    raw = text.strip().upper()
    if raw.startswith("R"):
        raise ScheduleError(
            field, f"{text!r} is a repeating interval; repeats are not supported here"
        )
    match = _ISO.fullmatch(raw)
    if not match or raw in ("P", "PT") or raw.endswith("T"):
        if _ISO_CALENDAR.match(raw):
            raise ScheduleError(
                field, f"{text!r} uses years or months, whose length varies; use days (P30D)"
            )
        raise ScheduleError(field, f"{text!r} is not an ISO 8601 duration such as PT5M or P1DT2H")
    sizes = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
    total = sum(float(v) * sizes[k] for k, v in match.groupdict().items() if v)
    return _bounded(total, text, field)


def parse_instant(text: str, field: str) -> datetime:
    """Parse an RFC 3339 instant; the offset is required (``Z`` or ``±hh:mm``)."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ScheduleError(
            field, f"{text!r} is not an RFC 3339 instant such as 2030-01-01T09:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise ScheduleError(
            field, f"{text!r} has no UTC offset; RFC 3339 needs Z or ±hh:mm at the end"
        )
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ScheduleError(field, f"{text!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return value.astimezone(UTC)


def parse_due(text: str, field: str, now: datetime) -> datetime:
    """A point in time as Dapr accepts it: RFC 3339, else a Go duration, else an ISO duration,
    the durations counted from ``now``."""
    raw = text.strip() if isinstance(text, str) else text
    if not isinstance(raw, str) or not raw:
        raise ScheduleError(field, "must be a non-empty string (RFC 3339 instant or duration)")
    if raw[:1].isdigit() and ("T" in raw or "t" in raw) and ":" in raw:
        return parse_instant(raw, field)
    if raw[:1] in "Pp" or raw[:1] in "Rr":
        return now + parse_iso_duration(raw, field)
    if _GO_PART.match(raw.lstrip("+-")):
        return now + parse_go_duration(raw, field)
    if raw[:1].isdigit():
        return parse_instant(raw, field)
    raise ScheduleError(
        field,
        f"{text!r} is neither an RFC 3339 instant nor a duration (30s, 1h30m, PT5M)",
    )


def _bounded(seconds: float, text: str, field: str) -> timedelta:
    """A timedelta of ``seconds``, refusing what would overflow or mean nothing (> 100 years)."""
    if seconds > MAX_DURATION.total_seconds():
        raise ScheduleError(field, f"{text!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def format_seconds(seconds: float) -> str:
    """Render a duration in its largest exact unit (90 → 90 seconds, 3600 → 1 hour)."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}" + ("s" if n != 1 else "")
    n = int(seconds) if float(seconds).is_integer() else seconds
    return f"{n} second" + ("s" if n != 1 else "")


def millis(value: datetime) -> datetime:
    """``value`` without its sub-millisecond part: instants are stored, and runs named, to the
    millisecond, so an instant kept finer would not read back as itself."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_instant(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and no microseconds unless present."""
    value = value.astimezone(UTC)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")
