"""Next fire times: UTC against croniter as an oracle, and the DST rule across both changes."""

import random
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from chalicelib.schedules.cron import parse_aws, parse_crontab, parse_unix
from chalicelib.schedules.nextfire import cron_fires, interval_fires
from tests.unit.cronfuzz import random_fields

START = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


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
