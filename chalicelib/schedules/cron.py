"""Cron expressions in three dialects, parsed into one ``CronSpec``.

- ``celery``: the udata/Celery ``crontab`` object. Day fields are AND-ed, Sunday = 0, 7 is refused,
  reversed ranges wrap (``fri-mon``).
- ``unix``: Vixie/cronie 5-field cron and the 6-field Dapr form (seconds first). Day fields are
  OR-ed when both are restricted and neither starts with ``*``, else AND-ed; 0 and 7 are Sunday;
  a reversed range is an error.
- ``aws``: EventBridge ``cron(min hour dom month dow year)``: Sunday = 1, ``?`` in one day field,
  ``L``, ``W``, ``#``, wrap-around ranges.

All three share the value-set representation (Sunday = 0 internally) so one next-fire routine
and one translator serve them all.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

from chalicelib.schedules.errors import ScheduleError

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

#: (low, high) for each field, Sunday = 0 for day_of_week.
RANGES: dict[str, tuple[int, int]] = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month_of_year": (1, 12),
    "day_of_week": (0, 6),
    "year": (1970, 2199),
}

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class CronSpec:
    """Value sets for each field plus the day rule. Full sets mean "any"."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    day_mode: str = "and"  # "and" | "or"
    years: frozenset[int] | None = None
    # EventBridge-only day specials (None/False when unused).
    dom_last: bool = False
    dom_weekday: int | None = None  # nW; 0 means LW (last weekday of the month)
    dow_nth: tuple[int, int] | None = None  # (weekday, n): d#n
    dow_last: int | None = None  # dL: last such weekday of the month
    text: str = field(default="", compare=False)

    @property
    def dom_full(self) -> bool:
        return self.days_of_month == _full("day_of_month") and not self._dom_special

    @property
    def dow_full(self) -> bool:
        return self.days_of_week == _full("day_of_week") and not self._dow_special

    @property
    def _dom_special(self) -> bool:
        return self.dom_last or self.dom_weekday is not None

    @property
    def _dow_special(self) -> bool:
        return self.dow_nth is not None or self.dow_last is not None

    @property
    def has_specials(self) -> bool:
        return self._dom_special or self._dow_special

    def day_matches(self, day: date) -> bool:
        """Whether ``day`` is a firing day under this spec's day rule."""
        if day.month not in self.months:
            return False
        if self.years is not None and day.year not in self.years:
            return False
        dom_ok = self._dom_matches(day)
        dow_ok = self._dow_matches(day)
        if self.day_mode == "or":  # Vixie: both restricted, neither starting with *
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def _dom_matches(self, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.dom_last:
            return day.day == last
        if self.dom_weekday is not None:
            return day.day == _nearest_weekday(day.year, day.month, self.dom_weekday, last)
        return day.day in self.days_of_month

    def _dow_matches(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7  # Python Monday=0 → Sunday=0
        if self.dow_nth is not None:
            wanted, n = self.dow_nth
            return weekday == wanted and (day.day - 1) // 7 + 1 == n
        if self.dow_last is not None:
            last = calendar.monthrange(day.year, day.month)[1]
            return weekday == self.dow_last and day.day + 7 > last
        return weekday in self.days_of_week


def _nearest_weekday(year: int, month: int, target: int, last: int) -> int:
    """AWS/Quartz ``nW``: the weekday closest to day n, never leaving the month; 0 means ``LW``."""
    if target == 0:
        day = last
        while calendar.weekday(year, month, day) >= 5:
            day -= 1
        return day
    day = min(target, last)
    wd = calendar.weekday(year, month, day)  # Monday=0
    if wd == 5:  # Saturday → Friday, or Monday if the 1st
        return day - 1 if day > 1 else day + 2
    if wd == 6:  # Sunday → Monday, or Friday if the last day
        return day + 1 if day < last else day - 2
    return day


def _full(name: str) -> frozenset[int]:
    low, high = RANGES[name]
    return frozenset(range(low, high + 1))


def _name_value(token: str, name: str, dialect: str) -> int | None:
    """Translate a month or weekday name; Celery matches the first three letters of any length."""
    lower = token.lower()
    key = lower[:3] if dialect == "celery" and len(lower) >= 3 else lower
    if name == "month_of_year" and key in MONTHS:
        return MONTHS.index(key) + 1
    if name == "day_of_week" and key in WEEKDAYS:
        return WEEKDAYS.index(key) + (1 if dialect == "aws" else 0)
    return None


def _value(token: str, name: str, dialect: str, label: str, low: int, high: int) -> int:
    named = _name_value(token, name, dialect)
    if named is not None:
        return named
    if not token.isdigit():
        raise ScheduleError(label, f"{token!r} is not a number or a known name")
    value = int(token)
    if not low <= value <= high:
        raise ScheduleError(label, f"{value} is out of range {low}-{high}")
    return value


def parse_field(text: str, name: str, dialect: str, label: str) -> frozenset[int]:
    """Parse one field into its set of values (Sunday = 0 for day_of_week in every dialect)."""
    low, high = RANGES[name]
    if name == "day_of_week":
        if dialect == "unix":
            high = 7
        elif dialect == "aws":
            low, high = 1, 7
    raw = str(text).strip()
    if not raw:
        raise ScheduleError(label, "is empty")
    values: set[int] = set()
    for part in raw.split(","):
        values |= _parse_part(part.strip(), name, dialect, label, low, high)
    if name == "day_of_week":
        if dialect == "unix":
            values = {v % 7 for v in values}
        elif dialect == "aws":
            values = {v - 1 for v in values}
    return frozenset(values)


def _parse_part(part: str, name: str, dialect: str, label: str, low: int, high: int) -> set[int]:
    if not part:
        raise ScheduleError(label, "has an empty list item")
    base, _, step_text = part.partition("/")
    step = 1
    if "/" in part:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ScheduleError(label, f"step {step_text!r} in {part!r} must be a positive integer")
        step = int(step_text)
        if name == "day_of_week" and dialect == "aws":
            raise ScheduleError(label, "EventBridge cron does not allow / in day-of-week")
    if base == "*":
        start, end = low, high
        if name == "day_of_week" and dialect == "unix" and step == 1:
            end = 6
    elif "-" in base:
        a, _, b = base.partition("-")
        start = _value(a, name, dialect, label, low, high)
        end = _value(b, name, dialect, label, low, high)
    else:
        start = _value(base, name, dialect, label, low, high)
        end = high if "/" in part else start
    if start <= end:
        seq = list(range(start, end + 1))
    elif dialect == "unix":
        raise ScheduleError(label, f"{part!r} is a reversed range ({start} > {end})")
    else:  # Celery and AWS wrap around: fri-mon, 22-2
        seq = list(range(start, high + 1)) + list(range(low, end + 1))
    return set(seq[::step])


def parse_unix(text: str, label: str = "schedule") -> CronSpec:
    """Parse 5-field cron, 6-field cron with seconds first (Dapr), or a macro."""
    raw = " ".join(str(text).split())
    expanded = MACROS.get(raw.lower(), raw)
    if expanded.startswith("@"):
        raise ScheduleError(
            label,
            f"unknown macro {raw!r}; use one of {', '.join(sorted(MACROS))} or @every <duration>",
        )
    parts = expanded.split(" ")
    if len(parts) == 5:
        seconds: frozenset[int] = frozenset({0})
        minute, hour, dom, month, dow = parts
    elif len(parts) == 6:
        second, minute, hour, dom, month, dow = parts
        seconds = parse_field(second, "second", "unix", f"{label} (second)")
    else:
        raise ScheduleError(
            label,
            f"{raw!r} has {len(parts)} fields; expected 5 (minute hour day-of-month month "
            "day-of-week) or 6 with seconds first",
        )
    mode = "and" if dom.startswith("*") or dow.startswith("*") else "or"
    return CronSpec(
        seconds=seconds,
        minutes=parse_field(minute, "minute", "unix", f"{label} (minute)"),
        hours=parse_field(hour, "hour", "unix", f"{label} (hour)"),
        days_of_month=parse_field(dom, "day_of_month", "unix", f"{label} (day-of-month)"),
        months=parse_field(month, "month_of_year", "unix", f"{label} (month)"),
        days_of_week=parse_field(dow, "day_of_week", "unix", f"{label} (day-of-week)"),
        day_mode=mode,
        text=expanded,
    )


CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def parse_crontab(crontab: dict[str, object], label: str = "crontab") -> CronSpec:
    """Parse a Celery crontab object; missing fields are ``*``."""
    unknown = sorted(set(crontab) - set(CRONTAB_FIELDS))
    if unknown:
        raise ScheduleError(
            f"{label}.{unknown[0]}", f"is not a crontab field (use {', '.join(CRONTAB_FIELDS)})"
        )
    sets: dict[str, frozenset[int]] = {}
    texts: dict[str, str] = {}
    for name in CRONTAB_FIELDS:
        value = crontab.get(name)
        value = "*" if value is None else value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ScheduleError(f"{label}.{name}", "must be a string or an integer")
        texts[name] = str(value).strip().replace(" ", "")
        sets[name] = parse_field(texts[name], name, "celery", f"{label}.{name}")
    return CronSpec(
        seconds=frozenset({0}),
        minutes=sets["minute"],
        hours=sets["hour"],
        days_of_month=sets["day_of_month"],
        months=sets["month_of_year"],
        days_of_week=sets["day_of_week"],
        day_mode="and",
        text=" ".join(
            texts[n] for n in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        ),
    )


_NTH = re.compile(r"^(\w+)#([1-5])$")
_LAST_DOW = re.compile(r"^(\w+)L$", re.IGNORECASE)
_WEEKDAY = re.compile(r"^(\d{1,2})W$", re.IGNORECASE)


def parse_aws(body: str, label: str = "schedule") -> CronSpec:
    """Parse the inside of an EventBridge ``cron(...)`` expression."""
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError(
            label,
            f"cron({body}) has {len(parts)} fields; EventBridge cron has 6: "
            "minutes hours day-of-month month day-of-week year",
        )
    minute, hour, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            label, "EventBridge cron needs ? in exactly one of day-of-month and day-of-week"
        )
    extra: dict[str, object] = {}
    doms, dows = _full("day_of_month"), _full("day_of_week")
    if dom != "?":
        upper = dom.upper()
        if upper == "L":
            extra["dom_last"] = True
        elif upper == "LW":
            extra["dom_weekday"] = 0
        elif _WEEKDAY.match(dom):
            day = int(dom[:-1])
            if not 1 <= day <= 31:
                raise ScheduleError(f"{label} (day-of-month)", f"{day} is out of range 1-31")
            extra["dom_weekday"] = day
        else:
            doms = parse_field(dom, "day_of_month", "aws", f"{label} (day-of-month)")
    if dow != "?":
        nth, last = _NTH.match(dow), _LAST_DOW.match(dow)
        if nth:
            weekday = parse_field(nth.group(1), "day_of_week", "aws", f"{label} (day-of-week)")
            if len(weekday) != 1:
                raise ScheduleError(f"{label} (day-of-week)", "# takes a single weekday")
            extra["dow_nth"] = (next(iter(weekday)), int(nth.group(2)))
        elif last and dow.upper() != "L":
            weekday = parse_field(last.group(1), "day_of_week", "aws", f"{label} (day-of-week)")
            extra["dow_last"] = next(iter(weekday))
        elif dow.upper() == "L":
            extra["dow_last"] = 6  # plain L in day-of-week is Saturday, the last day of the week
        else:
            dows = parse_field(dow, "day_of_week", "aws", f"{label} (day-of-week)")
    years = parse_field(year, "year", "aws", f"{label} (year)")
    return CronSpec(
        seconds=frozenset({0}),
        minutes=parse_field(minute, "minute", "aws", f"{label} (minutes)"),
        hours=parse_field(hour, "hour", "aws", f"{label} (hours)"),
        days_of_month=doms,
        months=parse_field(month, "month_of_year", "aws", f"{label} (month)"),
        days_of_week=dows,
        day_mode="and",
        years=None if years == _full("year") else years,
        text=body,
        **extra,  # type: ignore[arg-type]
    )
