import pytest

from chalicelib.schedules.cron import parse_aws, parse_crontab, parse_field, parse_unix
from chalicelib.schedules.errors import ScheduleError

ALL_DAYS = frozenset(range(7))


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("*", set(range(60))),
        ("*/15", {0, 15, 30, 45}),
        ("10-50/20", {10, 30, 50}),
        ("5,35", {5, 35}),
        ("5/20", {5, 25, 45}),
        ("0-4,58", {0, 1, 2, 3, 4, 58}),
    ],
)
def test_minute_field_forms(text, values):
    assert parse_field(text, "minute", "unix", "m") == frozenset(values)


def test_unix_day_of_week_seven_is_sunday():
    assert parse_field("7", "day_of_week", "unix", "d") == {0}
    assert parse_field("5-7", "day_of_week", "unix", "d") == {5, 6, 0}
    assert parse_field("*/2", "day_of_week", "unix", "d") == {0, 2, 4, 6}
    assert parse_field("MON-fri", "day_of_week", "unix", "d") == {1, 2, 3, 4, 5}


def test_unix_reversed_range_is_an_error():
    with pytest.raises(ScheduleError, match="reversed range"):
        parse_field("5-1", "day_of_week", "unix", "schedule (day-of-week)")


def test_celery_reversed_range_wraps():
    assert parse_field("fri-mon", "day_of_week", "celery", "d") == {5, 6, 0, 1}
    assert parse_field("22-2", "hour", "celery", "h") == {22, 23, 0, 1, 2}


def test_celery_refuses_seven_and_matches_long_names():
    with pytest.raises(ScheduleError, match="7 is out of range 0-6"):
        parse_field("7", "day_of_week", "celery", "crontab.day_of_week")
    assert parse_field("monday,Friday", "day_of_week", "celery", "d") == {1, 5}
    assert parse_field("january", "month_of_year", "celery", "m") == {1}


@pytest.mark.parametrize(
    ("crontab", "field", "rule"),
    [
        ({"minute": 61}, "crontab.minute", "61 is out of range 0-59"),
        ({"hour": "24"}, "crontab.hour", "24 is out of range 0-23"),
        ({"day_of_month": "0"}, "crontab.day_of_month", "0 is out of range 1-31"),
        ({"month_of_year": "13"}, "crontab.month_of_year", "13 is out of range 1-12"),
        ({"minute": "*/0"}, "crontab.minute", "must be a positive integer"),
        ({"minute": "a"}, "crontab.minute", "not a number"),
        ({"minute": ""}, "crontab.minute", "is empty"),
        ({"minute": "1,,2"}, "crontab.minute", "empty list item"),
        ({"second": "1"}, "crontab.second", "not a crontab field"),
        ({"minute": 1.5}, "crontab.minute", "string or an integer"),
        ({"minute": True}, "crontab.minute", "string or an integer"),
    ],
)
def test_crontab_errors_name_field_and_rule(crontab, field, rule):
    with pytest.raises(ScheduleError) as info:
        parse_crontab(crontab)
    assert info.value.field == field
    assert rule in info.value.rule


def test_crontab_missing_fields_are_star_and_days_are_anded():
    spec = parse_crontab({"minute": 0, "hour": 9})
    assert spec.text == "0 9 * * *"
    assert spec.day_mode == "and"
    assert spec.days_of_week == ALL_DAYS


def test_unix_day_mode_follows_vixie():
    assert parse_unix("30 4 1,15 * 5").day_mode == "or"
    assert parse_unix("0 0 */2 * 1").day_mode == "and"
    assert parse_unix("0 0 * * 1").day_mode == "and"


@pytest.mark.parametrize(
    ("macro", "text"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_macros_expand(macro, text):
    assert parse_unix(macro).text == text


def test_six_fields_put_seconds_first():
    spec = parse_unix("*/10 0 9 * * *")
    assert spec.seconds == {0, 10, 20, 30, 40, 50}
    assert spec.minutes == {0}
    assert spec.hours == {9}


@pytest.mark.parametrize(
    ("text", "rule"),
    [("@reboot", "unknown macro"), ("* * *", "has 3 fields"), ("* * * * * * *", "has 7 fields")],
)
def test_unix_errors(text, rule):
    with pytest.raises(ScheduleError, match=rule):
        parse_unix(text)


def test_aws_cron_sunday_is_one_and_specials_parse():
    assert parse_aws("0 9 ? * 1 *").days_of_week == {0}
    assert parse_aws("0 9 ? * MON-FRI *").days_of_week == {1, 2, 3, 4, 5}
    assert parse_aws("0 12 ? * 6L *").dow_last == 5
    assert parse_aws("0 12 ? * 3#2 *").dow_nth == (2, 2)
    assert parse_aws("0 12 L * ? *").dom_last
    assert parse_aws("0 12 LW * ? *").dom_weekday == 0
    assert parse_aws("0 12 15W * ? *").dom_weekday == 15
    assert parse_aws("0 20-2 ? * * *").hours == {20, 21, 22, 23, 0, 1, 2}
    assert parse_aws("0 0 1 1 ? 2030-2031").years == {2030, 2031}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("0 9 * * * *", "exactly one"),
        ("0 9 ? * ? *", "exactly one"),
        ("0 9 * * ?", "has 5 fields"),
        ("0 9 ? * */2 *", "does not allow /"),
        ("0 9 ? * 8 *", "out of range 1-7"),
        ("0 9 ? * 1,2#1 *", "not a number"),
        ("0 9 32W * ? *", "out of range 1-31"),
        ("0 9 ? * 1 1969", "out of range 1970-2199"),
    ],
)
def test_aws_cron_errors(body, rule):
    with pytest.raises(ScheduleError, match=rule):
        parse_aws(body)
