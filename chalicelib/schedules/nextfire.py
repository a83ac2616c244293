"""Next fire times in a time zone, with EventBridge Scheduler's daylight-saving rule.

DST rule (the one EventBridge Scheduler documents, implemented here and tested):
- a wall-clock time that does not exist (the spring-forward gap) is skipped, not moved;
- a wall-clock time that happens twice (the fall-back overlap) fires once, at its first
  occurrence (the earlier UTC instant).
Cron fields are matched on local wall-clock time; intervals are exact elapsed time in UTC
(``rate(1 day)`` is 24 h even across a DST change).

Cost: the search starts at the first wall-clock candidate after ``after`` (the fields carry
over like an odometer, as APScheduler's ``CronTrigger`` does) and walks only the days that can
match, so finding the next fire does not depend on the time of day, and a spec that never fires
gives up after one pass over the horizon's months.
"""

from __future__ import annotations

import calendar
import math
from bisect import bisect_left
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.schedules.cron import CronSpec, _nearest_weekday

#: How far ahead a cron search looks before concluding that the spec never fires (covers
#: Feb 29 falling on a given weekday, which can take 28 years).
HORIZON_DAYS = 366 * 30

_SECOND = timedelta(seconds=1)
_MIDNIGHT = (0, 0, 0)


def cron_fires(spec: CronSpec, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Yield UTC instants strictly after ``after`` at which ``spec`` fires in ``tz``.

    Wall-clock times are tried in order. With ``fold=0`` the map from an existing wall-clock
    time to its instant is increasing, so no time before ``after``'s own wall clock can fire
    after it: the search starts at that wall clock's next whole second."""
    local_after = after.astimezone(tz)
    end = local_after.date() + timedelta(days=HORIZON_DAYS)
    start: datetime | None = local_after.replace(tzinfo=None, microsecond=0) + _SECOND
    overlap_end = _overlap_end(local_after, after, tz)
    if overlap_end is not None and overlap_end > start:
        start = overlap_end
    fields = (sorted(spec.hours), sorted(spec.minutes), sorted(spec.seconds))
    while start is not None:  # a walk stops at a DST gap and says where to resume
        start = yield from _walk(spec, tz, after, start, end, fields)


def _walk(
    spec: CronSpec,
    tz: ZoneInfo,
    after: datetime,
    start: datetime,
    end: date,
    fields: tuple[list[int], list[int], list[int]],
) -> Generator[datetime, None, datetime | None]:
    """Fire instants from the naive wall clock ``start`` on; returns where to resume when it
    meets a spring-forward gap (past the gap's last second), None at the horizon."""
    first_day = start.date()
    for day in _days(spec, first_day, end):
        clock = (start.hour, start.minute, start.second) if day == first_day else _MIDNIGHT
        for hour, minute, second in _clock(*fields, clock):
            fire = _local_instant(day, hour, minute, second, tz)
            if fire is None:
                resume = _gap_end(datetime(day.year, day.month, day.day, hour, minute, second), tz)
                if resume is not None:
                    return resume
            elif fire > after:
                yield fire
    return None


def _clock(
    hours: Sequence[int],
    minutes: Sequence[int],
    seconds: Sequence[int],
    start: tuple[int, int, int],
) -> Iterator[tuple[int, int, int]]:
    """The (hour, minute, second) combinations at or after ``start``, in order: each field
    starts at its first value not below ``start``'s while the fields before it equal
    ``start``'s, and from its lowest value once a field before it has moved on (the carry)."""
    h, m, s = start
    i = bisect_left(hours, h)
    if i < len(hours) and hours[i] == h:
        j = bisect_left(minutes, m)
        if j < len(minutes) and minutes[j] == m:
            for second in seconds[bisect_left(seconds, s) :]:
                yield h, m, second
            j += 1
        for minute in minutes[j:]:
            for second in seconds:
                yield h, minute, second
        i += 1
    for hour in hours[i:]:
        for minute in minutes:
            for second in seconds:
                yield hour, minute, second


def _days(spec: CronSpec, first: date, end: date) -> Iterator[date]:
    """The days from ``first`` to ``end`` (inclusive) that match ``spec``, month by month:
    months and years outside the spec are skipped whole, and within a month only the days that
    can match (the day-of-month values, the week of a ``#`` or ``L`` weekday) are checked."""
    candidates = _day_candidates(spec)
    year, month, from_day = first.year, first.month, first.day
    last_year = end.year if spec.years is None else min(end.year, max(spec.years))
    while year <= last_year:
        if month in spec.months and (spec.years is None or year in spec.years):
            for number in candidates(year, month, from_day):
                day = date(year, month, number)
                if day > end:
                    return
                if spec.day_matches(day):
                    yield day
        year, month, from_day = year + (month == 12), month % 12 + 1, 1


def _day_candidates(spec: CronSpec) -> Callable[[int, int, int], Sequence[int]]:
    """For a month (from a given day), days in order that include every one ``spec`` matches
    (``day_matches`` has the last word)."""
    days_of_month = sorted(spec.days_of_month)
    dom_full = spec.dom_full

    def candidates(year: int, month: int, from_day: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        if spec.day_mode == "or":  # Vixie: either field may match, so any day may
            return range(from_day, last + 1)
        low, high = from_day, last
        if spec.dow_nth is not None:  # d#n: the n-th week of the month
            n = spec.dow_nth[1]
            low, high = max(low, (n - 1) * 7 + 1), min(high, n * 7)
        elif spec.dow_last is not None:  # dL: the last seven days
            low = max(low, last - 6)
        if spec.dom_last:
            return [last] if low <= last <= high else []
        if spec.dom_weekday is not None:
            day = _nearest_weekday(year, month, spec.dom_weekday, last)
            return [day] if low <= day <= high else []
        if dom_full:
            return range(low, high + 1)
        return [d for d in days_of_month if low <= d <= high]

    return candidates


def _overlap_end(local_after: datetime, after: datetime, tz: ZoneInfo) -> datetime | None:
    """When ``after`` falls in the second occurrence of a fall-back overlap, the naive wall
    clock at which the overlap ends (None otherwise).

    Every wall-clock time from ``after``'s to that one fires at its first occurrence, which
    has passed, so the search starts there instead of rejecting each of them (up to an hour of
    seconds for ``* * * * * *``)."""
    if not local_after.fold:
        return None
    earlier, later = local_after.replace(fold=0).utcoffset(), local_after.utcoffset()
    if earlier is None or later is None or earlier <= later:
        return None
    # The clocks went back between the first occurrence of after's wall clock and after.
    change = _transition(after - (earlier - later), after, tz)
    if change is None:
        return None
    end = change.replace(tzinfo=None) + earlier
    # Skip only wall-clock times whose (first) occurrence has passed.
    last_skipped = (end - _SECOND).replace(tzinfo=tz, fold=0).astimezone(UTC)
    return end if last_skipped <= after else None


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The first whole second of wall clock after the spring-forward gap that holds the
    non-existent naive ``wall``, so a walk skips the gap at once (an hour of seconds for
    ``* * 2 * * *``); None if that cannot be established."""
    # In a gap, fold=0 reads the wall clock at the offset before the change, fold=1 after it.
    before = wall.replace(tzinfo=tz, fold=0).utcoffset()
    after = wall.replace(tzinfo=tz, fold=1).utcoffset()
    if before is None or after is None or after <= before:
        return None
    # The clocks went forward between the wall clock read at the later offset and the earlier.
    utc_wall = wall.replace(tzinfo=UTC)
    change = _transition(utc_wall - after, utc_wall - before, tz)
    if change is None:
        return None
    end = change.replace(tzinfo=None) + after
    # Skip only wall-clock times that do not exist.
    last_skipped = end - _SECOND
    if end <= wall or _local_instant(
        last_skipped.date(), last_skipped.hour, last_skipped.minute, last_skipped.second, tz
    ):
        return None
    return end


def _transition(low: datetime, high: datetime, tz: ZoneInfo) -> datetime | None:
    """The first whole second after ``low`` (up to ``high``) at which ``tz``'s UTC offset
    differs from its offset at ``low``, by bisection (a dozen look-ups for an hour)."""
    lo, hi = math.floor(low.timestamp()), math.ceil(high.timestamp())
    offset = datetime.fromtimestamp(lo, tz).utcoffset()
    if datetime.fromtimestamp(hi, tz).utcoffset() == offset:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == offset:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


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
