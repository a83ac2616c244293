from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.schedules.durations import (
    format_instant,
    format_seconds,
    parse_due,
    parse_go_duration,
    parse_instant,
    parse_iso_duration,
)
from chalicelib.schedules.errors import ScheduleError

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("300ms", 0.3),
        ("2h45m10s", 9910),
        ("1m", 60),
        ("10us", 0.00001),
        (".5s", 0.5),
    ],
)
def test_go_durations_parse_to_seconds(text, seconds):
    assert parse_go_duration(text, "f").total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "s", "1x", "1h 30m", "-5s", "1d", "h1"])
def test_bad_go_durations_name_the_field(text):
    with pytest.raises(ScheduleError) as info:
        parse_go_duration(text, "due_time")
    assert info.value.field == "due_time"


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("pt1h", timedelta(hours=1)),
    ],
)
def test_iso_durations_parse(text, delta):
    assert parse_iso_duration(text, "f") == delta


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("P1Y", "years or months"),
        ("P2M", "years or months"),
        ("R5/PT1M", "repeating"),
        ("PT", "not an ISO 8601"),
        ("P", "not an ISO 8601"),
        ("P1DT", "not an ISO 8601"),
    ],
)
def test_bad_iso_durations_explain(text, rule):
    with pytest.raises(ScheduleError, match=rule):
        parse_iso_duration(text, "f")


def test_instants_need_an_offset():
    assert parse_instant("2030-01-01T10:00:00+02:00", "f") == datetime(2030, 1, 1, 8, tzinfo=UTC)
    assert parse_instant("2030-01-01T10:00:00Z", "f") == datetime(2030, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="no UTC offset"):
        parse_instant("2030-01-01T10:00:00", "start_at")
    with pytest.raises(ScheduleError, match="RFC 3339"):
        parse_instant("tomorrow", "start_at")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW + timedelta(seconds=30)),
        ("PT5M", NOW + timedelta(minutes=5)),
        ("2030-01-02T00:00:00Z", datetime(2030, 1, 2, tzinfo=UTC)),
    ],
)
def test_due_accepts_instants_and_durations(text, expected):
    assert parse_due(text, "due_time", NOW) == expected


@pytest.mark.parametrize("text", ["", "soon", "   "])
def test_due_rejects_garbage(text):
    with pytest.raises(ScheduleError):
        parse_due(text, "due_time", NOW)


def test_huge_durations_are_refused_not_overflowed():
    with pytest.raises(ScheduleError, match="100 years"):
        parse_go_duration("99999999999h", "f")


def test_formatting():
    assert format_seconds(3600) == "1 hour"
    assert format_seconds(90) == "90 seconds"
    assert format_seconds(300) == "5 minutes"
    assert format_seconds(86400 * 2) == "2 days"
    assert format_instant(datetime(2030, 1, 1, tzinfo=UTC)) == "2030-01-01T00:00:00Z"
