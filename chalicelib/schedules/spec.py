"""One normalised schedule spec from every accepted input form.

Inputs (exactly one recurring form, or ``due_time`` alone, or ``due_time`` with a recurring form):
``crontab`` (Celery object), ``schedule`` (5/6-field cron, macro, ``@every``, raw EventBridge
``cron()/rate()/at()``, optional ``CRON_TZ=`` prefix), ``interval`` ``{every, period}``,
``due_time`` (Go or ISO duration from now, or RFC 3339), plus ``timezone``, ``start_at``,
``end_at`` or ``ttl``, and ``repeats``.

Relative inputs (``due_time: 30s``, ``ttl: 1h``) are resolved against ``now`` once, so the stored
spec (``to_dict``) is absolute and re-reading it gives the same fire times forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.schedules import cron as cronlib
from chalicelib.schedules.durations import (
    MAX_YEAR,
    MIN_YEAR,
    format_instant,
    format_seconds,
    millis,
    parse_due,
    parse_go_duration,
    parse_instant,
)
from chalicelib.schedules.errors import NoEquivalentError, ScheduleError
from chalicelib.schedules.nextfire import cron_fires, interval_fires

PERIODS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
RECURRING_FIELDS = ("crontab", "schedule", "interval")
_TZ_PREFIX = re.compile(r"^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_AT = re.compile(r"^at\(\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)
MAX_REPEATS = 1_000_000_000


@dataclass(frozen=True)
class ScheduleSpec:
    """What a job's schedule means, independent of how the user wrote it.

    ``kind`` is ``cron`` (wall-clock fields in ``timezone``), ``interval`` (fixed elapsed time from
    ``anchor``) or ``once`` (only ``due_at``). ``due_at`` on a recurring spec is the first fire.
    """

    kind: str
    source: str  # which input field carried it: crontab | schedule | interval | due_time
    timezone: str = "UTC"
    expression: str | None = None  # the cron text or schedule string as given (normalised)
    cron: cronlib.CronSpec | None = None
    aws_cron: bool = False  # a raw EventBridge cron(), passed through verbatim
    every: timedelta | None = None
    anchor: datetime | None = None
    due_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    repeats: int | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def precision(self) -> str:
        """``second`` when EventBridge's one-minute precision is not enough (the SQS path)."""
        if self.cron is not None and self.cron.seconds != frozenset({0}):
            return "second"
        if self.every is not None and self.every.total_seconds() % 60:
            return "second"
        if self.due_at is not None:
            return "second"
        return "minute"

    def fires(self, after: datetime, count: int, fired: int = 0) -> list[datetime]:
        """The next ``count`` fire instants strictly after ``after``; ``fired`` runs already
        count against ``repeats``."""
        limit = count if self.repeats is None else min(count, max(self.repeats - fired, 0))
        out: list[datetime] = []
        if limit <= 0:
            return out
        for fire in self._iter(after):
            if self.end_at is not None and fire > self.end_at:
                break
            out.append(fire)
            if len(out) >= limit:
                break
        return out

    def upcoming(self, now: datetime, count: int, fired: int = 0) -> list[datetime]:
        """Like ``fires`` but from ``now`` inclusive, so a due time resolved to now still counts."""
        return self.fires(now - timedelta(microseconds=1), count, fired)

    def _iter(self, after: datetime) -> Iterator[datetime]:
        if self.due_at is not None:
            if self.due_at > after:
                yield self.due_at
            after = max(after, self.due_at)
        if self.kind == "once":
            return
        if self.start_at is not None:
            after = max(after, self.start_at - timedelta(microseconds=1))
        if self.kind == "cron":
            assert self.cron is not None
            yield from cron_fires(self.cron, self.tz, after)
        else:
            assert self.every is not None and self.anchor is not None
            yield from interval_fires(self.anchor, self.every, after)

    def render(self) -> str:
        """The short human-readable ``schedule`` string (udata's style)."""
        if self.kind == "cron":
            return self.expression or ""
        if self.kind == "interval":
            assert self.every is not None
            if self.source == "schedule" and self.expression:
                return self.expression
            return "every " + _every_text(self.every.total_seconds())
        assert self.due_at is not None
        return f"once at {format_instant(self.due_at)}"

    def to_dict(self) -> dict[str, Any]:
        """Absolute, JSON-safe form stored with the job; ``from_dict`` is its inverse."""
        out: dict[str, Any] = {"kind": self.kind, "source": self.source, "timezone": self.timezone}
        if self.expression is not None:
            out["expression"] = self.expression
        if self.cron is not None:
            out["dialect"] = (
                "aws" if self.aws_cron else ("celery" if self.source == "crontab" else "unix")
            )
        if self.every is not None:
            out["every_seconds"] = self.every.total_seconds()
        for name in ("anchor", "due_at", "start_at", "end_at"):
            value = getattr(self, name)
            if value is not None:
                out[name] = format_instant(value)
        if self.repeats is not None:
            out["repeats"] = self.repeats
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleSpec:
        cron = None
        if "dialect" in data:
            text = data["expression"]
            if data["dialect"] == "aws":
                cron = cronlib.parse_aws(_CRON.match(text).group(1))  # type: ignore[union-attr]
            elif data["dialect"] == "celery":
                cron = cronlib.parse_crontab(
                    dict(
                        zip(
                            ("minute", "hour", "day_of_month", "month_of_year", "day_of_week"),
                            text.split(),
                            strict=True,
                        )
                    )
                )
            else:
                cron = cronlib.parse_unix(_strip_tz(text)[1])
        instants = {
            name: parse_instant(data[name], name)
            for name in ("anchor", "due_at", "start_at", "end_at")
            if data.get(name)
        }
        return cls(
            kind=data["kind"],
            source=data["source"],
            timezone=data.get("timezone", "UTC"),
            expression=data.get("expression"),
            cron=cron,
            aws_cron=data.get("dialect") == "aws",
            every=timedelta(seconds=data["every_seconds"]) if "every_seconds" in data else None,
            repeats=data.get("repeats"),
            **instants,
        )


def _every_text(seconds: float) -> str:
    text = format_seconds(seconds)
    return text.split(" ", 1)[1] if text.startswith("1 ") else text


def parse_timezone(value: Any, field: str = "timezone") -> str:
    if value is None:
        return "UTC"
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError(field, "must be an IANA time zone name such as Europe/Paris")
    name = value.strip()
    if len(name) > 50 or name.startswith(("/", ".")) or ".." in name:
        raise ScheduleError(field, f"{value!r} is not an IANA time zone name")
    try:
        ZoneInfo(name)
    except Exception:
        raise ScheduleError(field, f"{value!r} is not a known IANA time zone name") from None
    return name


def _strip_tz(text: str) -> tuple[str | None, str]:
    match = _TZ_PREFIX.match(text)
    return (match.group(1), match.group(2)) if match else (None, text)


def _instant_field(fields: Mapping[str, Any], name: str) -> datetime | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ScheduleError(name, "must be an RFC 3339 string such as 2030-01-01T09:00:00Z")
    return parse_instant(value, name)


def _parse_interval(value: Any) -> timedelta:
    if not isinstance(value, Mapping):
        raise ScheduleError("interval", "must be an object {every, period}")
    unknown = sorted(set(value) - {"every", "period"})
    if unknown:
        raise ScheduleError(
            f"interval.{unknown[0]}", "is not an interval field (use every, period)"
        )
    every, period = value.get("every"), value.get("period")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ScheduleError("interval.every", f"{every!r} must be a positive integer")
    if period not in PERIODS:
        raise ScheduleError("interval.period", f"{period!r} must be one of {', '.join(PERIODS)}")
    seconds = every * PERIODS[period]
    if seconds > 366 * 86400 * 100:
        raise ScheduleError("interval.every", f"{every} {period} is longer than 100 years")
    return timedelta(seconds=seconds)


def _parse_schedule_string(value: Any, timezone: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse the ``schedule`` string into spec fields; returns the CRON_TZ zone if given."""
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError("schedule", "must be a non-empty string")
    text = " ".join(value.split())
    if len(text) > 256:
        raise ScheduleError("schedule", "is longer than 256 characters")
    prefix_tz, body = _strip_tz(text)
    if prefix_tz is not None:
        prefix_tz = parse_timezone(prefix_tz, "schedule")
        if timezone is not None and timezone != prefix_tz:
            raise ScheduleError(
                "schedule", f"CRON_TZ={prefix_tz} contradicts timezone {timezone!r}"
            )
    lower = body.lower()
    if lower.startswith("@every"):
        if prefix_tz is not None:
            raise ScheduleError("schedule", "a CRON_TZ prefix cannot be combined with @every")
        every = parse_go_duration(body[len("@every") :], "schedule")
        if every < timedelta(seconds=1):
            raise ScheduleError("schedule", f"{body!r} is shorter than the 1 second minimum")
        return {"kind": "interval", "every": every, "expression": text}, prefix_tz
    if match := _RATE.match(body):
        amount, unit = int(match.group(1)), match.group(2).lower().rstrip("s") + "s"
        if amount < 1:
            raise ScheduleError("schedule", "a rate() value must be a positive integer")
        every = timedelta(seconds=amount * PERIODS[unit])
        return {"kind": "interval", "every": every, "expression": _rate(every)}, prefix_tz
    if match := _AT.match(body):
        return {"kind": "once", "at_local": match.group(1)}, prefix_tz
    if lower.startswith("at("):
        raise ScheduleError("schedule", f"{body!r} must be at(yyyy-mm-ddThh:mm:ss)")
    if match := _CRON.match(body):
        inner = " ".join(match.group(1).split())
        cron = cronlib.parse_aws(inner, "schedule")
        return {
            "kind": "cron",
            "cron": cron,
            "aws_cron": True,
            "expression": f"cron({inner})",
        }, prefix_tz
    if lower.startswith("rate("):
        raise ScheduleError(
            "schedule", f"{body!r} must be rate(<positive integer> minute(s)|hour(s)|day(s))"
        )
    cron = cronlib.parse_unix(body, "schedule")
    return {"kind": "cron", "cron": cron, "expression": text}, prefix_tz


def _rate(every: timedelta) -> str:
    seconds = int(every.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"rate({n} {unit}{'s' if n != 1 else ''})"
    raise NoEquivalentError("schedule", f"{seconds} s is not a whole number of minutes")


def parse_spec(
    fields: Mapping[str, Any], now: datetime, *, keep_past_due: bool = False
) -> ScheduleSpec:
    """Validate and normalise the schedule fields of a job or a preview request.

    A due time at or before ``now`` (``0s``, a past instant, a past ``at()``) means "fire at
    once", as Dapr and EventBridge's ``at()`` do: it resolves to ``now``. ``keep_past_due`` is
    for a due time resolved earlier and carried over by an update: it keeps its instant, so
    the fire it meant keeps its run id and cannot run twice. Instants are kept to the
    millisecond, the precision they are stored and named with, so a stored spec reads back
    exactly as parsed."""
    now = millis(now.astimezone(UTC))
    given = [name for name in RECURRING_FIELDS if fields.get(name) is not None]
    due_text = fields.get("due_time")
    if len(given) > 1:
        raise ScheduleError(given[1], f"give only one of {', '.join(RECURRING_FIELDS)}")
    if not given and due_text is None:
        raise ScheduleError(
            "schedule", "one of crontab, schedule, interval or due_time is required"
        )
    raw_tz = fields.get("timezone")
    timezone = parse_timezone(raw_tz) if raw_tz is not None else None
    parsed: dict[str, Any]
    source = given[0] if given else "due_time"
    if source == "crontab":
        if not isinstance(fields["crontab"], Mapping):
            raise ScheduleError("crontab", "must be an object {minute, hour, day_of_week, ...}")
        cron = cronlib.parse_crontab(dict(fields["crontab"]))
        parsed = {"kind": "cron", "cron": cron, "expression": cron.text}
    elif source == "interval":
        parsed = {"kind": "interval", "every": _parse_interval(fields["interval"])}
    elif source == "schedule":
        parsed, prefix_tz = _parse_schedule_string(fields["schedule"], timezone)
        timezone = timezone or prefix_tz
    else:
        parsed = {"kind": "once"}
    timezone = timezone or "UTC"

    due_at = None
    if due_text is not None:
        if not isinstance(due_text, str):
            raise ScheduleError("due_time", "must be a string: a duration (30s, PT5M) or RFC 3339")
        due_at = millis(parse_due(due_text, "due_time", now))
    if "at_local" in parsed:
        if due_at is not None:
            raise ScheduleError("due_time", "cannot be combined with a one-time at() schedule")
        due_at = _at_instant(parsed.pop("at_local"), timezone)
        parsed["expression"] = None
        source = "schedule"
    if due_at is not None and due_at < now and not keep_past_due:
        due_at = now

    start_at = _instant_field(fields, "start_at")
    end_at = _instant_field(fields, "end_at")
    start_at, end_at = (millis(t) if t else None for t in (start_at, end_at))
    ttl = fields.get("ttl")
    if ttl is not None:
        if end_at is not None:
            raise ScheduleError("ttl", "give end_at or ttl, not both")
        if not isinstance(ttl, str):
            raise ScheduleError("ttl", "must be a string: a duration (1h, P1D) or RFC 3339")
        end_at = millis(parse_due(ttl, "ttl", max(due_at or now, now)))
    repeats = fields.get("repeats")
    if repeats is not None and (
        isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS
    ):
        raise ScheduleError("repeats", f"{repeats!r} must be an integer from 1 to {MAX_REPEATS}")
    if parsed["kind"] == "once":
        for name, value in (("start_at", start_at), ("end_at", end_at)):
            if value is not None:
                raise ScheduleError(name, "only applies to a recurring schedule")
        if repeats is not None and repeats > 1:
            raise ScheduleError(
                "repeats", "a one-time due_time fires once; add a schedule to repeat"
            )
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise ScheduleError("end_at", "must be after start_at")
    if end_at is not None and end_at <= now:
        raise ScheduleError("ttl" if ttl is not None else "end_at", "is in the past")

    anchor = None
    if parsed["kind"] == "interval":
        anchor = start_at or due_at or now
        if start_at is not None:  # the first interval fire is start_at itself
            anchor = start_at - parsed["every"]
        anchor = anchor.replace(microsecond=0)

    spec = ScheduleSpec(
        kind=parsed["kind"],
        source=source,
        timezone=timezone,
        expression=parsed.get("expression"),
        cron=parsed.get("cron"),
        aws_cron=parsed.get("aws_cron", False),
        every=parsed.get("every"),
        anchor=anchor,
        due_at=due_at,
        start_at=start_at,
        end_at=end_at,
        repeats=repeats,
    )
    if not spec.upcoming(min(now, due_at or now), 1):
        raise NoEquivalentError(
            source, "never fires: no matching time before its end (or within 30 years)"
        )
    return spec


def _at_instant(local: str, timezone: str) -> datetime:
    try:
        naive = datetime.fromisoformat(local)
    except ValueError:
        raise ScheduleError("schedule", f"at({local}) is not a valid date and time") from None
    if not MIN_YEAR <= naive.year <= MAX_YEAR:
        raise ScheduleError("schedule", f"at({local}) is outside the years {MIN_YEAR}-{MAX_YEAR}")
    tz = ZoneInfo(timezone)
    aware = naive.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise ScheduleError("schedule", f"at({local}) does not exist in {timezone} (DST gap)")
    return utc
