"""Next fire times: UTC against croniter as an oracle, the DST rule across both changes, the
odometer search against the exhaustive one it replaced, and the work one next fire costs."""

import math
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.schedules import nextfire
from chalicelib.schedules.cron import CronSpec, parse_aws, parse_crontab, parse_unix
from chalicelib.schedules.nextfire import HORIZON_DAYS, cron_fires, interval_fires
from tests.unit.cronfuzz import random_field, random_fields

START = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # DST of 30 minutes: 02:00 -> 02:30, 02:00 -> 01:30


def take(spec, tz, after, n):
    return list(islice(cron_fires(spec, tz, after), n))


def oracle(expression, day_or, after, n):
    it = croniter(expression, after, day_or=day_or)
    return [it.get_next(datetime).astimezone(UTC) for _ in range(n)]


FIXED = [
    "* * * * *",
    "*/15 * * * *",
    "0 9-17 * * mon-fri",
    "30 4 1,15 * 5",
    "0 0 1-7 * 1",
    "0 0 */2 * 1",
    "0 12 * jan,jul *",
    "0 0 31 * *",
    "5 0 29 2 *",
    "0 0 * * 7",
]


@pytest.mark.parametrize("expression", FIXED)
def test_unix_fires_match_croniter_in_utc(expression):
    spec = parse_unix(expression)
    count = 5 if "29 2" in expression else 25  # Feb 29 recurs every 4 years; the horizon is 30
    expected = oracle(expression, spec.day_mode == "or", START, count)
    assert take(spec, UTC, START, count) == expected


def test_random_unix_expressions_match_croniter():
    rng = random.Random(7)
    for _ in range(300):
        expression = " ".join(random_fields(rng))
        spec = parse_unix(expression)
        after = START + timedelta(minutes=rng.randrange(60 * 24 * 400))
        assert take(spec, UTC, after, 8) == oracle(expression, spec.day_mode == "or", after, 8), (
            expression
        )


def test_celery_days_are_anded_even_without_star():
    spec = parse_crontab({"minute": 0, "hour": 0, "day_of_month": "1-7", "day_of_week": "mon"})
    fires = take(spec, UTC, START, 12)
    assert all(f.weekday() == 0 and f.day <= 7 for f in fires)
    assert [f.month for f in fires] == list(range(1, 13))


def test_spring_forward_skips_the_missing_time():
    # Europe/Paris jumps from 02:00 to 03:00 on 2030-03-31: 02:30 does not exist that day.
    spec = parse_unix("30 2 * * *")
    fires = take(spec, PARIS, datetime(2030, 3, 29, tzinfo=UTC), 4)
    local_days = [f.astimezone(PARIS).date() for f in fires]
    assert date(2030, 3, 31) not in local_days
    assert local_days == [date(2030, 3, 29), date(2030, 3, 30), date(2030, 4, 1), date(2030, 4, 2)]
    assert all(f.astimezone(PARIS).hour == 2 and f.astimezone(PARIS).minute == 30 for f in fires)


def test_fall_back_fires_an_ambiguous_time_once_at_its_first_occurrence():
    # America/New_York repeats 01:00-02:00 on 2030-11-03 (EDT then EST).
    spec = parse_unix("30 1 * * *")
    fires = take(spec, NEW_YORK, datetime(2030, 11, 2, 12, tzinfo=UTC), 3)
    assert fires == [
        datetime(2030, 11, 3, 5, 30, tzinfo=UTC),  # 01:30 EDT, the first of the two
        datetime(2030, 11, 4, 6, 30, tzinfo=UTC),  # 01:30 EST the next day
        datetime(2030, 11, 5, 6, 30, tzinfo=UTC),
    ]


def test_hourly_across_fall_back_never_fires_twice_for_one_wall_clock_time():
    spec = parse_unix("0 * * * *")
    after = datetime(2030, 11, 3, 3, tzinfo=UTC)  # 23:00 EDT on Nov 2
    fires = take(spec, NEW_YORK, after, 5)
    walls = [f.astimezone(NEW_YORK).strftime("%H:%M") for f in fires]
    assert walls == ["00:00", "01:00", "02:00", "03:00", "04:00"]
    assert fires[2] - fires[1] == timedelta(hours=2)  # the second 01:00 (EST) is not fired


def test_hourly_across_spring_forward_has_no_two_oclock():
    spec = parse_unix("0 * * * *")
    fires = take(spec, NEW_YORK, datetime(2030, 3, 10, 5, 30, tzinfo=UTC), 3)
    assert [f.astimezone(NEW_YORK).hour for f in fires] == [1, 3, 4]


def test_cron_in_a_zone_keeps_local_wall_time_across_dst():
    spec = parse_crontab({"minute": 0, "hour": 9})
    fires = take(spec, PARIS, datetime(2030, 3, 30, tzinfo=UTC), 2)
    assert [f.hour for f in fires] == [8, 7]  # 09:00 CET then 09:00 CEST


def test_aws_specials_fire_where_eventbridge_would():
    last_friday = take(parse_aws("0 12 ? * 6L *"), UTC, START, 3)
    assert [f.date() for f in last_friday] == [
        date(2030, 1, 25),
        date(2030, 2, 22),
        date(2030, 3, 29),
    ]
    second_tuesday = take(parse_aws("0 12 ? * 3#2 *"), UTC, START, 2)
    assert [f.date() for f in second_tuesday] == [date(2030, 1, 8), date(2030, 2, 12)]
    last_day = take(parse_aws("0 0 L * ? *"), UTC, START, 2)
    assert [f.date() for f in last_day] == [date(2030, 1, 31), date(2030, 2, 28)]
    # 2030-06-15 is a Saturday: 15W is Friday the 14th; 2030-09-01 a Sunday: 1W is Monday the 2nd.
    assert take(parse_aws("0 0 15W 6 ? 2030"), UTC, START, 1)[0].date() == date(2030, 6, 14)
    assert take(parse_aws("0 0 1W 9 ? 2030"), UTC, START, 1)[0].date() == date(2030, 9, 2)
    # LW: last weekday; 2030-03-31 is a Sunday, so the 29th (Friday).
    assert take(parse_aws("0 0 LW 3 ? 2030"), UTC, START, 1)[0].date() == date(2030, 3, 29)


def test_impossible_dates_yield_nothing():
    assert take(parse_unix("0 0 30 2 *"), UTC, START, 1) == []


def test_interval_fires_are_exact_elapsed_time():
    anchor = datetime(2030, 3, 30, 12, tzinfo=UTC)
    fires = list(islice(interval_fires(anchor, timedelta(days=1), anchor), 2))
    assert fires == [anchor + timedelta(days=1), anchor + timedelta(days=2)]
    later = list(
        islice(interval_fires(anchor, timedelta(minutes=5), anchor + timedelta(minutes=7)), 2)
    )
    assert later == [anchor + timedelta(minutes=10), anchor + timedelta(minutes=15)]
    before = list(
        islice(interval_fires(anchor, timedelta(minutes=5), anchor - timedelta(days=1)), 1)
    )
    assert before == [anchor + timedelta(minutes=5)]


# The exhaustive search cron_fires used before issue 13, kept as the reference: every wall-clock
# combination of every day from after's local date, each compared with after.


def reference_fires(spec: CronSpec, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    local_after = after.astimezone(tz)
    day = local_after.date()
    end = day + timedelta(days=HORIZON_DAYS)
    hours, minutes, seconds = sorted(spec.hours), sorted(spec.minutes), sorted(spec.seconds)
    while day <= end:
        if day.month not in spec.months or (spec.years is not None and day.year not in spec.years):
            day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            continue
        if spec.day_matches(day):
            for hour in hours:
                for minute in minutes:
                    for second in seconds:
                        naive = datetime(day.year, day.month, day.day, hour, minute, second)
                        fire = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
                        if fire.astimezone(tz).replace(tzinfo=None) != naive:
                            continue  # a DST gap
                        if fire > after:
                            yield fire
        day += timedelta(days=1)


def take_reference(expression, tz, after, n=3):
    return list(islice(reference_fires(parse_unix(expression), tz, after), n))


@cache
def transitions(tz: ZoneInfo) -> list[datetime]:
    """The instants tz's offset changed in 2029-2032 (to the second)."""
    found, day = [], datetime(2029, 1, 1, tzinfo=UTC)
    while day.year < 2033:
        following = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            low, high = math.floor(day.timestamp()), math.floor(following.timestamp())
            while high - low > 1:
                mid = (low + high) // 2
                same = datetime.fromtimestamp(mid, tz).utcoffset() == day.astimezone(tz).utcoffset()
                low, high = (mid, high) if same else (low, mid)
            found.append(datetime.fromtimestamp(high, UTC))
        day = following
    return found


CELERY_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


@st.composite
def cron_specs(draw, every_day: bool = False) -> CronSpec:
    """Unix (5 and 6 fields, OR-ed days), Celery (AND-ed) and EventBridge (L, W, #, years)
    specs, fields from cronfuzz over each dialect's full ranges; ``every_day``: 6-field specs
    that fire every day, so their first fires are near the instant drawn."""
    rng = draw(st.randoms(use_true_random=False))
    dialect = draw(st.sampled_from(["unix6"] if every_day else ["unix", "unix6", "celery", "aws"]))
    minute, hour = random_field(rng, 0, 59), random_field(rng, 0, 23)
    if rng.random() < 0.4:  # the hours DST changes happen in, in all three zones
        hour = rng.choice(["*", "1", "2", "1-3", "0-4", "1,2,3"])
    if every_day:
        return parse_unix(f"{random_field(rng, 0, 59)} {minute} {hour} * * *")
    month = random_field(rng, 1, 12)
    if dialect.startswith("unix"):
        dom, dow = random_field(rng, 1, 31), random_field(rng, 0, 7)
        second = random_field(rng, 0, 59) + " " if dialect == "unix6" else ""
        return parse_unix(f"{second}{minute} {hour} {dom} {month} {dow}")
    if dialect == "celery":
        fields = [minute, hour, random_field(rng, 1, 31), month, random_field(rng, 0, 6)]
        return parse_crontab(dict(zip(CELERY_FIELDS, fields, strict=True)))
    year = rng.choice(["*", "*", "*", "2030", "2029-2031", "2031,2033"])
    if rng.random() < 0.5:
        dom = rng.choice(["L", "LW", f"{rng.randint(1, 31)}W", random_field(rng, 1, 31)])
        return parse_aws(f"{minute} {hour} {dom} {month} ? {year}")
    weekday = rng.randint(1, 7)
    dow = rng.choice(
        [f"{weekday}L", "L", f"{weekday}#{rng.randint(1, 5)}", random_field(rng, 1, 7)]
    )
    dow = dow.split("/")[0]  # EventBridge has no step in day-of-week: */n becomes *
    return parse_aws(f"{minute} {hour} ? {month} {dow} {year}")


@st.composite
def instants(draw, tz: ZoneInfo, near_dst: bool = False) -> datetime:
    """Near one of tz's DST changes, just before a local midnight, or anywhere in 2029-2032."""
    kinds = ["dst", "midnight", "anywhere"] if transitions(tz) else ["midnight", "anywhere"]
    kind = draw(st.sampled_from(["dst"] if near_dst else kinds))
    if kind == "dst":
        base = draw(st.sampled_from(transitions(tz)))
        hours = draw(st.sampled_from([3, 36]))
        moment = base + timedelta(seconds=draw(st.integers(-hours * 3600, hours * 3600)))
    elif kind == "midnight":
        day = date(2029, 1, 1) + timedelta(days=draw(st.integers(0, 4 * 365)))
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
        moment = midnight - timedelta(seconds=draw(st.integers(-3, 120)))
    else:
        moment = datetime(2029, 1, 1, tzinfo=UTC) + timedelta(
            seconds=draw(st.integers(0, 4 * 365 * 86400))
        )
    return moment + timedelta(microseconds=draw(st.sampled_from([0, 0, 1, 500_000, 999_999])))


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cron_specs(), st.sampled_from([UTC, PARIS, NEW_YORK, LORD_HOWE]), st.data())
def test_fires_match_the_exhaustive_search(spec, tz, data):
    after = data.draw(instants(tz), label="after")
    fires = take(spec, tz, after, 6)
    assert fires == list(islice(reference_fires(spec, tz, after), 6)), spec.text
    assert all(fire > after for fire in fires)
    assert all(a < b for a, b in pairwise(fires))


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cron_specs(every_day=True), st.sampled_from([PARIS, NEW_YORK, LORD_HOWE]), st.data())
def test_fires_across_dst_changes_match_the_exhaustive_search(spec, tz, data):
    after = data.draw(instants(tz, near_dst=True), label="after")
    fires = take(spec, tz, after, 6)
    assert fires == list(islice(reference_fires(spec, tz, after), 6)), spec.text


@pytest.mark.parametrize(
    ("tz", "wall", "expected"),
    [
        # Paris springs forward at 02:00 on 2030-03-31: the first second after the gap.
        (PARIS, datetime(2030, 3, 31, 1, 59, 59), datetime(2030, 3, 31, 1, 0, 0, tzinfo=UTC)),
        # New York falls back at 02:00 EDT on 2030-11-03; from the second 01:30 (EST), the
        # first wall-clock second not already fired is 02:00 EST.
        (NEW_YORK, datetime(2030, 11, 3, 1, 30, fold=1), datetime(2030, 11, 3, 7, tzinfo=UTC)),
        # Lord Howe falls back half an hour at 02:00 on 2030-04-07 (to 01:30, +10:30).
        (LORD_HOWE, datetime(2030, 4, 7, 1, 45, fold=1), datetime(2030, 4, 6, 15, 30, tzinfo=UTC)),
    ],
)
def test_every_second_across_a_dst_change(tz, wall, expected):
    after = wall.replace(tzinfo=tz).astimezone(UTC)
    assert take(parse_unix("* * * * * *"), tz, after, 1) == [expected]
    assert take(parse_unix("* * * * * *"), tz, after, 3) == take_reference("* * * * * *", tz, after)


@pytest.fixture
def work(monkeypatch):
    """Counts the wall-clock times tried (``_local_instant``) and the days checked."""
    counts = {"times": 0, "days": 0}
    local_instant, day_matches = nextfire._local_instant, CronSpec.day_matches

    def counting_instant(*args):
        counts["times"] += 1
        return local_instant(*args)

    def counting_days(self, day):
        counts["days"] += 1
        return day_matches(self, day)

    monkeypatch.setattr(nextfire, "_local_instant", counting_instant)
    monkeypatch.setattr(CronSpec, "day_matches", counting_days)
    return counts


@pytest.mark.parametrize("tz", [UTC, PARIS])
@pytest.mark.parametrize("wall", [(0, 59, 30), (12, 0, 0), (23, 59, 58)])
def test_next_fire_work_does_not_depend_on_the_time_of_day(work, tz, wall):
    local = datetime(2030, 1, 15, *wall, tzinfo=tz)
    assert take(parse_unix("* * * * * *"), tz, local.astimezone(UTC), 1) == [
        (local + timedelta(seconds=1)).astimezone(UTC)
    ]
    assert work == {"times": 1, "days": 1}  # was up to 86,400 times (~200 ms at 23:59)


@pytest.mark.parametrize(
    ("expression", "tz", "wall"),
    [
        ("* * * * * *", NEW_YORK, datetime(2030, 11, 3, 1, 0, 0, fold=1)),  # an hour of repeats
        ("* * 2 * * *", PARIS, datetime(2030, 3, 31, 1, 59, 59)),  # an hour of gap
        ("59 59 23 * * *", PARIS, datetime(2030, 1, 15, 0, 0, 1)),
        ("0 0 0 1 1 *", PARIS, datetime(2030, 1, 1, 0, 0, 1)),  # next year
    ],
)
def test_next_fire_work_is_bounded_across_dst_and_carries(work, expression, tz, wall):
    after = wall.replace(tzinfo=tz).astimezone(UTC)
    fires = take(parse_unix(expression), tz, after, 1)
    assert work["times"] <= 3  # a gap costs one try and one check of its last second
    assert work["days"] <= 3  # a gap: its day, that day again after the gap, the next one
    assert fires == take_reference(expression, tz, after, 1)


@pytest.mark.parametrize(
    ("spec", "fires"),
    [
        (parse_unix("0 0 30 2 *"), []),  # never
        (parse_aws("0 0 ? 2 2#5 *"), [datetime(2044, 2, 29, tzinfo=UTC)]),  # 5th Monday of Feb
        (
            parse_crontab(
                {"minute": 0, "hour": 0, "day_of_month": 29, "month_of_year": 2, "day_of_week": 1}
            ),
            [datetime(2044, 2, 29, tzinfo=UTC)],  # Feb 29 on a Monday, then past the horizon
        ),
    ],
)
def test_rare_and_impossible_days_are_not_searched_day_by_day(work, spec, fires):
    assert take(spec, UTC, START, 2) == fires
    assert work["days"] <= 8  # the leap days of the 30-year horizon at most, not 11,000 days
