"""Translate a ``ScheduleSpec`` into EventBridge Scheduler schedules.

Rules (``shared/reference/eventbridge-moto.md`` §3):
- minutes/hours/day-of-month/month: ``*`` when full, ``start/step`` for a progression that runs
  to the field's end, otherwise a compressed list of ``a-b`` runs; year is always ``*``;
- day-of-week: Unix 0-6 (Sunday = 0) becomes AWS 1-7 (Sunday = 1), always as a list (AWS has no
  ``/`` there);
- one day field must be ``?``. Vixie OR with both day fields restricted becomes two schedules
  (``dom ?`` and ``? dow``; a date matching both fires both, and the worker's run id dedupes);
- AND with both restricted has no equivalent, except "the n-th weekday of the month": a
  day-of-month of exactly 1-7, 8-14, 15-21 or 22-28 with one weekday maps to ``d#n``;
- rates are whole minutes, hours or days; anything finer goes to the SQS path.

The SQS path (second precision): a recurring spec gets a ``rate(1 minute)`` heartbeat whose fire
hands the next minute's fires to SQS delayed messages; a one-time due time gets an ``at()`` one
minute ahead of it (or no schedule at all when it is at most 15 minutes away: the API sends the
delayed message itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from chalicelib.schedules.cron import RANGES, CronSpec
from chalicelib.schedules.errors import NoEquivalentError
from chalicelib.schedules.nextfire import interval_fires
from chalicelib.schedules.spec import ScheduleSpec, _rate
from chalicelib.vocabulary import Delivery

MAX_EXPRESSION = 256
#: SQS's longest message delay: due times nearer than this need no EventBridge schedule.
SQS_MAX_DELAY = timedelta(seconds=900)
LEAD = timedelta(minutes=1)


@dataclass(frozen=True)
class PlannedSchedule:
    """One EventBridge schedule a job needs. ``delivery`` says what the fire does: ``run`` the
    job at the scheduled time, or ``plan`` the coming fires onto SQS delayed messages."""

    suffix: str  # "" (main), "dow" (second half of a split), "due" (first fire)
    expression: str
    timezone: str
    start_date: datetime | None
    end_date: datetime | None
    one_time: bool
    delivery: str
    #: The job's spec (``ScheduleSpec.to_dict``) for a ``run`` schedule's input: its fires are
    #: decided on it without reading the job (chalicelib/firing.py).
    spec: dict[str, Any] | None = field(default=None, compare=False)


def _emit(values: frozenset[int], name: str) -> str:
    low, high = RANGES[name]
    if values == frozenset(range(low, high + 1)):
        return "*"
    ordered = sorted(values)
    if len(ordered) >= 3:
        step = ordered[1] - ordered[0]
        if all(b - a == step for a, b in pairwise(ordered)) and (ordered[-1] + step > high):
            return f"{ordered[0]}/{step}"
    return _runs(ordered)


def _runs(ordered: list[int]) -> str:
    parts: list[str] = []
    start = prev = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        if prev - start >= 2:
            parts.append(f"{start}-{prev}")
        else:
            parts.extend(str(v) for v in range(start, prev + 1))
        if value is not None:
            start = prev = value
    return ",".join(parts)


def _dow(values: frozenset[int]) -> str:
    return _runs(sorted((v % 7) + 1 for v in values))


def cron_expressions(cron: CronSpec, field: str = "schedule") -> list[str]:
    """AWS ``cron(...)`` bodies for a Unix or Celery spec: one, or two for a Vixie OR split."""
    head = f"{_emit(cron.minutes, 'minute')} {_emit(cron.hours, 'hour')}"
    month = _emit(cron.months, "month_of_year")
    dom = _emit(cron.days_of_month, "day_of_month")
    dow = _dow(cron.days_of_week)
    if cron.day_mode == "or":
        if cron.dom_full or cron.dow_full:
            days = [("*", "?")]
        else:
            days = [(dom, "?"), ("?", dow)]
    elif cron.dom_full:
        days = [("*", "?")] if cron.dow_full else [("?", dow)]
    elif cron.dow_full:
        days = [(dom, "?")]
    else:
        days = [("?", _nth_weekday(cron, field))]
    out = [f"cron({head} {d} {month} {w} *)" for d, w in days]
    for expression in out:
        if len(expression) > MAX_EXPRESSION:
            raise NoEquivalentError(
                field, f"translates to {len(expression)} characters; EventBridge allows 256"
            )
    return out


def _nth_weekday(cron: CronSpec, field: str) -> str:
    for n in range(1, 5):
        week = frozenset(range(7 * (n - 1) + 1, 7 * n + 1))
        if cron.days_of_month == week and len(cron.days_of_week) == 1:
            return f"{(next(iter(cron.days_of_week)) % 7) + 1}#{n}"
    raise NoEquivalentError(
        field,
        "restricts both day-of-month and day-of-week and requires both to match; EventBridge "
        "cron allows only one day field (the other must be ?). Restrict one of them, or use "
        "day-of-month 1-7, 8-14, 15-21 or 22-28 with a single weekday for the n-th weekday "
        "of the month",
    )


def at_expression(when: datetime) -> str:
    """``at()`` in UTC, to the minute (EventBridge's precision)."""
    return f"at({when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:00')})"


def recurring_expressions(spec: ScheduleSpec) -> list[str]:
    """The expression(s) of the recurring part, validated; empty for a one-time spec."""
    if spec.kind == "once":
        return []
    if spec.precision == "second" and spec.kind != "once" and _recurring_is_subminute(spec):
        return ["rate(1 minute)"]
    if spec.kind == "interval":
        assert spec.every is not None
        return [_rate(spec.every)]
    assert spec.cron is not None
    if spec.aws_cron:
        assert spec.expression is not None
        return [spec.expression]
    return cron_expressions(spec.cron, spec.source)


def recurring_delivery(spec: ScheduleSpec) -> Delivery:
    """What a fire of the job's main (recurring) schedule does: ``plan`` the next minute's fires
    onto SQS (a sub-minute recurring part: the heartbeat), else ``run`` the job. A due time
    alone does not make the recurring part a heartbeat: it has its own ``-due`` schedule or
    hand-off."""
    subminute = spec.kind != "once" and _recurring_is_subminute(spec)
    return Delivery.PLAN if subminute else Delivery.RUN


def _recurring_is_subminute(spec: ScheduleSpec) -> bool:
    if spec.cron is not None:
        return spec.cron.seconds != frozenset({0})
    return spec.every is not None and spec.every.total_seconds() % 60 != 0


def plan(spec: ScheduleSpec, now: datetime) -> list[PlannedSchedule]:
    """Every EventBridge schedule the spec needs, in a stable order."""
    planned: list[PlannedSchedule] = []
    if spec.due_at is not None and spec.due_at - now > SQS_MAX_DELAY:
        planned.append(
            PlannedSchedule(
                suffix="due",
                expression=at_expression(spec.due_at - LEAD),
                timezone="UTC",
                start_date=None,
                end_date=None,
                one_time=True,
                delivery=Delivery.PLAN,
            )
        )
    expressions = recurring_expressions(spec)
    delivery = recurring_delivery(spec)
    start = _recurring_start(spec, now) if delivery == Delivery.RUN else next_minute(now)
    for index, expression in enumerate(expressions):
        planned.append(
            PlannedSchedule(
                suffix="" if index == 0 else "dow",
                expression=expression,
                timezone=spec.timezone,
                start_date=start,
                end_date=spec.end_at,
                one_time=False,
                delivery=delivery,
                spec=spec.to_dict() if delivery == Delivery.RUN else None,
            )
        )
    return planned


def next_minute(now: datetime) -> datetime:
    """A heartbeat's first fire: the next whole minute (the API hands off the time before)."""
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _recurring_start(spec: ScheduleSpec, now: datetime) -> datetime | None:
    """StartDate of the recurring schedule: the next interval fire (so a ``rate()`` keeps the
    job's phase across updates), or the later of start_at and due_at for cron."""
    after = max(now, spec.due_at) if spec.due_at else now
    if spec.start_at is not None:
        after = max(after, spec.start_at - timedelta(microseconds=1))
    if spec.kind == "interval":
        assert spec.anchor is not None and spec.every is not None
        return next(interval_fires(spec.anchor, spec.every, after))
    later = [t for t in (spec.start_at, spec.due_at) if t is not None and t > now]
    return max(later) if later else None


def path(spec: ScheduleSpec) -> str:
    """``sqs`` when second precision needs SQS delayed messages, else ``scheduler``."""
    return "sqs" if spec.precision == "second" else "scheduler"
