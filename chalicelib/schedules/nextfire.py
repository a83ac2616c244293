"""Next fire times in a time zone, with EventBridge Scheduler's daylight-saving rule.

DST rule (the one EventBridge Scheduler documents, implemented here and tested):
- a wall-clock time that does not exist (the spring-forward gap) is skipped, not moved;
- a wall-clock time that happens twice (the fall-back overlap) fires once, at its first
  occurrence (the earlier UTC instant).
Cron fields are matched on local wall-clock time; intervals are exact elapsed time in UTC
(``rate(1 day)`` is 24 h even across a DST change).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.schedules.cron import CronSpec

#: How far ahead a cron search looks before concluding that the spec never fires (covers
#: Feb 29 falling on a given weekday, which can take 28 years).
HORIZON_DAYS = 366 * 30


def cron_fires(spec: CronSpec, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Yield UTC instants strictly after ``after`` at which ``spec`` fires in ``tz``."""
    local_after = after.astimezone(tz)
    day = local_after.date()
    end = day + timedelta(days=HORIZON_DAYS)
    hours = sorted(spec.hours)
    minutes = sorted(spec.minutes)
    seconds = sorted(spec.seconds)
    while day <= end:
        if day.month not in spec.months or (spec.years is not None and day.year not in spec.years):
            day = _first_of_next_month(day)
            continue
        if spec.day_matches(day):
            for hour in hours:
                for minute in minutes:
                    for second in seconds:
                        fire = _local_instant(day, hour, minute, second, tz)
                        if fire is not None and fire > after:
                            yield fire
        day += timedelta(days=1)


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _local_instant(day: date, hour: int, minute: int, second: int, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, None if it does not exist (DST gap).

    ``fold=0`` picks the first of two occurrences, so an ambiguous time fires once."""
    naive = datetime(day.year, day.month, day.day, hour, minute, second)
    utc = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return utc


def interval_fires(anchor: datetime, every: timedelta, after: datetime) -> Iterator[datetime]:
    """Yield ``anchor + k * every`` (k ≥ 1) strictly after ``after``."""
    if after < anchor:
        k = 1
    else:
        k = int((after - anchor) / every) + 1
    while True:
        fire = anchor + every * k
        if fire > after:
            yield fire
        k += 1
