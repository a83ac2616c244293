from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.schedules import ScheduleSpec, describe, parse_spec, path
from chalicelib.schedules.errors import NoEquivalentError, ScheduleError

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def fires(fields, n=3, now=NOW):
    return parse_spec(fields, now).fires(now, n)


@pytest.mark.parametrize(
    ("fields", "render"),
    [
        ({"crontab": {"minute": 0, "hour": 0}}, "0 0 * * *"),
        ({"schedule": "@daily"}, "@daily"),
        ({"interval": {"every": 5, "period": "minutes"}}, "every 5 minutes"),
        ({"interval": {"every": 1, "period": "days"}}, "every day"),
        ({"due_time": "30s"}, "once at 2030-01-01T12:00:30Z"),
        ({"schedule": "@every 1h30m"}, "@every 1h30m"),
    ],
)
def test_every_form_renders_udata_style(fields, render):
    assert parse_spec(fields, NOW).render() == render


def test_exactly_one_recurring_form():
    with pytest.raises(ScheduleError) as info:
        parse_spec({"crontab": {"minute": 0}, "interval": {"every": 1, "period": "days"}}, NOW)
    assert info.value.field == "interval"
    with pytest.raises(ScheduleError, match="one of crontab, schedule, interval or due_time"):
        parse_spec({}, NOW)


def test_due_time_alone_fires_once():
    assert fires({"due_time": "PT5M"}, 5) == [NOW + timedelta(minutes=5)]


def test_due_time_with_schedule_fires_first_at_due_time_then_on_schedule():
    got = fires({"due_time": "2030-01-01T12:00:30Z", "schedule": "0 */6 * * *"}, 3)
    assert got == [
        datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC),
        datetime(2030, 1, 1, 18, tzinfo=UTC),
        datetime(2030, 1, 2, 0, tzinfo=UTC),
    ]


def test_past_due_instant_fires_now():
    spec = parse_spec({"due_time": "2020-01-01T00:00:00Z"}, NOW)
    assert spec.fires(NOW - timedelta(microseconds=1), 3) == [NOW]


def test_repeats_caps_fires_and_counts_past_runs():
    spec = parse_spec({"schedule": "@hourly", "repeats": 3}, NOW)
    assert len(spec.fires(NOW, 10)) == 3
    assert len(spec.fires(NOW, 10, fired=2)) == 1
    assert spec.fires(NOW, 10, fired=3) == []


def test_end_at_and_ttl_bound_the_fires():
    got = fires({"schedule": "@hourly", "end_at": "2030-01-01T14:30:00Z"}, 10)
    assert got[-1] == datetime(2030, 1, 1, 14, tzinfo=UTC)
    assert len(fires({"schedule": "@hourly", "ttl": "2h"}, 10)) == 2
    assert len(fires({"schedule": "@hourly", "ttl": "PT2H"}, 10)) == 2


def test_ttl_counts_from_the_due_time_as_dapr_does():
    got = fires({"schedule": "@hourly", "due_time": "1h", "ttl": "1h"}, 10)
    assert got == [NOW + timedelta(hours=1), NOW + timedelta(hours=2)]


def test_start_at_delays_the_first_fire():
    got = fires({"schedule": "@daily", "start_at": "2030-02-01T00:00:00Z"}, 1)
    assert got == [datetime(2030, 2, 1, tzinfo=UTC)]
    got = fires(
        {"interval": {"every": 1, "period": "hours"}, "start_at": "2030-02-01T00:00:00Z"}, 2
    )
    assert got == [datetime(2030, 2, 1, tzinfo=UTC), datetime(2030, 2, 1, 1, tzinfo=UTC)]


def test_interval_counts_from_creation():
    got = fires({"interval": {"every": 90, "period": "seconds"}}, 2)
    assert got == [NOW + timedelta(seconds=90), NOW + timedelta(seconds=180)]


def test_cron_tz_prefix_sets_the_zone():
    spec = parse_spec({"schedule": "CRON_TZ=Europe/Paris 0 0 9 * * *"}, NOW)
    assert spec.timezone == "Europe/Paris"
    assert spec.fires(NOW, 1) == [datetime(2030, 1, 2, 8, tzinfo=UTC)]


def test_raw_at_is_read_in_the_job_zone():
    spec = parse_spec({"schedule": "at(2030-06-01T09:00:00)", "timezone": "Europe/Paris"}, NOW)
    assert spec.fires(NOW, 5) == [datetime(2030, 6, 1, 7, tzinfo=UTC)]


def test_precision_decides_the_path():
    assert path(parse_spec({"schedule": "@hourly"}, NOW)) == "scheduler"
    assert path(parse_spec({"interval": {"every": 2, "period": "minutes"}}, NOW)) == "scheduler"
    assert path(parse_spec({"schedule": "@every 30s"}, NOW)) == "sqs"
    assert path(parse_spec({"schedule": "*/5 * * * * *"}, NOW)) == "sqs"
    assert path(parse_spec({"interval": {"every": 45, "period": "seconds"}}, NOW)) == "sqs"
    assert path(parse_spec({"due_time": "10s"}, NOW)) == "sqs"


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"schedule": "61 * * * *"}, "schedule (minute)", "61 is out of range 0-59"),
        ({"schedule": ""}, "schedule", "non-empty"),
        ({"schedule": "@every 500ms"}, "schedule", "1 second minimum"),
        ({"schedule": "@every soon"}, "schedule", "not a Go duration"),
        ({"schedule": "CRON_TZ=Europe/Paris @every 1m"}, "schedule", "cannot be combined"),
        ({"schedule": "CRON_TZ=Mars/Base 0 * * * *"}, "schedule", "not a known IANA"),
        ({"schedule": "rate(0 minutes)"}, "schedule", "positive integer"),
        ({"schedule": "rate(5 seconds)"}, "schedule", "rate(<positive integer>"),
        ({"schedule": "at(tomorrow)"}, "schedule", "at(yyyy-mm-ddThh:mm:ss)"),
        ({"interval": {"every": 0, "period": "days"}}, "interval.every", "positive integer"),
        ({"interval": {"every": 1, "period": "weeks"}}, "interval.period", "must be one of"),
        ({"interval": {"every": 1, "period": "days", "x": 1}}, "interval.x", "not an interval"),
        ({"interval": "5m"}, "interval", "must be an object"),
        ({"crontab": "0 0 * * *"}, "crontab", "must be an object"),
        ({"schedule": "@daily", "timezone": "Nowhere/City"}, "timezone", "not a known IANA"),
        ({"schedule": "@daily", "timezone": "../../etc/passwd"}, "timezone", "not an IANA"),
        ({"schedule": "@daily", "repeats": 0}, "repeats", "from 1"),
        ({"schedule": "@daily", "repeats": True}, "repeats", "from 1"),
        ({"due_time": "5s", "repeats": 2}, "repeats", "fires once"),
        ({"due_time": "5s", "end_at": "2031-01-01T00:00:00Z"}, "end_at", "recurring"),
        ({"schedule": "@daily", "end_at": "2020-01-01T00:00:00Z"}, "end_at", "in the past"),
        ({"schedule": "@daily", "end_at": "2031-01-01T00:00:00Z", "ttl": "1h"}, "ttl", "not both"),
        (
            {
                "schedule": "@daily",
                "start_at": "2031-01-02T00:00:00Z",
                "end_at": "2031-01-01T00:00:00Z",
            },
            "end_at",
            "after start_at",
        ),
        ({"due_time": 30}, "due_time", "must be a string"),
        (
            {"schedule": "at(2030-03-31T02:30:00)", "timezone": "Europe/Paris"},
            "schedule",
            "DST gap",
        ),
    ],
)
def test_invalid_fields_name_the_field_and_the_rule(fields, field, rule):
    with pytest.raises(ScheduleError) as info:
        parse_spec(fields, NOW)
    assert info.value.field == field
    assert rule in info.value.rule
    assert not isinstance(info.value, NoEquivalentError)  # answered 400, not 422


def test_a_schedule_that_never_fires_is_a_422():
    with pytest.raises(NoEquivalentError, match="never fires"):
        parse_spec({"schedule": "0 0 30 2 *"}, NOW)


@pytest.mark.parametrize(
    "fields",
    [
        {"crontab": {"minute": "*/5", "day_of_week": "fri-mon"}, "timezone": "Asia/Tokyo"},
        {"schedule": "30 4 1,15 * 5"},
        {"schedule": "*/10 * * * * *"},
        {"schedule": "cron(0 12 ? * 6L *)"},
        {"schedule": "CRON_TZ=Europe/Paris @daily", "repeats": 4},
        {"interval": {"every": 3, "period": "hours"}, "start_at": "2030-02-01T00:00:00Z"},
        {"due_time": "45s"},
        {"due_time": "1h", "schedule": "@every 10m", "ttl": "24h"},
    ],
)
def test_stored_form_round_trips_to_the_same_fires(fields):
    spec = parse_spec(fields, NOW)
    again = ScheduleSpec.from_dict(spec.to_dict())
    later = NOW + timedelta(days=3)
    assert again.fires(NOW, 20) == spec.fires(NOW, 20)
    assert again.fires(later, 5) == spec.fires(later, 5)
    assert again.to_dict() == spec.to_dict()


def test_descriptions_are_readable():
    assert describe(
        parse_spec(
            {"crontab": {"minute": 0, "hour": 9, "day_of_week": "1-5"}, "timezone": "Europe/Paris"},
            NOW,
        )
    ) == ("at 09:00 on Monday, Tuesday, Wednesday, Thursday and Friday (Europe/Paris)")
    assert describe(parse_spec({"schedule": "@hourly", "repeats": 2}, NOW)) == (
        "at minute 0 of every hour (UTC), at most 2 times"
    )
    assert describe(parse_spec({"interval": {"every": 5, "period": "minutes"}}, NOW)) == (
        "every 5 minutes"
    )


def test_a_past_due_time_with_a_cron_keeps_the_cron_expression():
    """Found by the service state machine: a past due time dropped the cron's expression, so
    the stored spec could not be read back."""
    from datetime import UTC, datetime

    from chalicelib.schedules.spec import ScheduleSpec, parse_spec

    now = datetime(2030, 3, 4, 10, 1, 0, 504000, tzinfo=UTC)
    fields = {"schedule": "*/20 * * * * *", "due_time": "2030-03-04T10:00:30Z"}
    spec = parse_spec(fields, now)
    assert spec.expression == "*/20 * * * * *"
    assert spec.due_at == now
    assert ScheduleSpec.from_dict(spec.to_dict()) == spec
