"""Translation to EventBridge expressions: the reference table, then a differential test of the
translated expressions against aws-croniter (an AWS cron oracle, UTC only)."""

import random
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest
from aws_croniter import AwsCroniter

from chalicelib.schedules.cron import parse_crontab, parse_unix
from chalicelib.schedules.errors import NoEquivalentError
from chalicelib.schedules.eventbridge import at_expression, cron_expressions, plan
from chalicelib.schedules.nextfire import cron_fires
from chalicelib.schedules.spec import parse_spec
from tests.unit.cronfuzz import random_fields

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

TABLE = [
    ("* * * * *", ["cron(* * * * ? *)"]),
    ("*/15 * * * *", ["cron(0/15 * * * ? *)"]),
    ("10-50/20 * * * *", ["cron(10/20 * * * ? *)"]),
    ("5,35 * * * *", ["cron(5,35 * * * ? *)"]),
    ("0 */6 * * *", ["cron(0 0/6 * * ? *)"]),
    ("0 9-17 * * mon-fri", ["cron(0 9-17 ? * 2-6 *)"]),
    ("0 0 * * 0", ["cron(0 0 ? * 1 *)"]),
    ("0 0 * * 7", ["cron(0 0 ? * 1 *)"]),
    ("0 0 * * SUN", ["cron(0 0 ? * 1 *)"]),
    ("0 0 * * 5-7", ["cron(0 0 ? * 1,6,7 *)"]),
    ("0 0 * * */2", ["cron(0 0 ? * 1,3,5,7 *)"]),
    ("0 0 1 * *", ["cron(0 0 1 * ? *)"]),
    ("0 0 */2 * *", ["cron(0 0 1/2 * ? *)"]),
    ("0 0 1 */3 *", ["cron(0 0 1 1/3 ? *)"]),
    ("0 12 * jan,jul *", ["cron(0 12 * 1,7 ? *)"]),
    ("0 0 1-31 * 1", ["cron(0 0 * * ? *)"]),
    ("30 4 1,15 * 5", ["cron(30 4 1,15 * ? *)", "cron(30 4 ? * 6 *)"]),
    ("0 0 1-7 * 1", ["cron(0 0 1-7 * ? *)", "cron(0 0 ? * 2 *)"]),
    ("0 0 31 * *", ["cron(0 0 31 * ? *)"]),
]


@pytest.mark.parametrize(("expression", "expected"), TABLE)
def test_unix_translation_table(expression, expected):
    assert cron_expressions(parse_unix(expression)) == expected


def test_vixie_and_with_both_days_restricted_has_no_equivalent():
    with pytest.raises(NoEquivalentError, match="only one day field"):
        cron_expressions(parse_unix("0 0 */2 * 1"))


@pytest.mark.parametrize(("dom", "nth"), [("1-7", 1), ("8-14", 2), ("15-21", 3), ("22-28", 4)])
def test_celery_nth_weekday_maps_to_hash(dom, nth):
    spec = parse_crontab({"minute": 0, "hour": 0, "day_of_month": dom, "day_of_week": 1})
    assert cron_expressions(spec) == [f"cron(0 0 ? * 2#{nth} *)"]


def test_celery_wrapping_weekdays():
    spec = parse_crontab({"minute": 0, "hour": 0, "day_of_week": "fri-mon"})
    assert cron_expressions(spec) == ["cron(0 0 ? * 1,2,6,7 *)"]


def test_celery_both_days_restricted_is_a_422_that_explains():
    spec = parse_crontab({"day_of_month": "2-9", "day_of_week": "1"})
    with pytest.raises(NoEquivalentError) as info:
        cron_expressions(spec, "crontab")
    assert isinstance(info.value, NoEquivalentError)  # answered 422, not 400
    assert info.value.field == "crontab"
    assert "the other must be ?" in info.value.rule


def _aws_fires(expressions, after, n):
    fires = set()
    for expression in expressions:
        fires |= set(AwsCroniter(expression[5:-1]).get_next(after, n=n))
    return sorted(fires)[:n]


@pytest.mark.parametrize("dialect", ["unix", "celery"])
def test_translated_expressions_fire_like_the_source(dialect):
    rng = random.Random(11)
    checked = 0
    for _ in range(400):
        minute, hour, dom, month, dow = random_fields(rng)
        if dialect == "unix":
            spec = parse_unix(f"{minute} {hour} {dom} {month} {dow}")
        else:
            spec = parse_crontab(
                {
                    "minute": minute,
                    "hour": hour,
                    "day_of_month": dom,
                    "month_of_year": month,
                    "day_of_week": dow,
                }
            )
        try:
            expressions = cron_expressions(spec)
        except NoEquivalentError:
            continue
        after = NOW + timedelta(minutes=rng.randrange(60 * 24 * 365))
        ours = list(islice(cron_fires(spec, UTC, after), 10))
        assert _aws_fires(expressions, after, 10) == ours, (spec.text, expressions)
        checked += 1
    assert checked > 100  # the rest restrict both day fields (no equivalent)


def test_at_is_utc_to_the_minute():
    assert at_expression(datetime(2030, 1, 1, 10, 5, 42, tzinfo=UTC)) == "at(2030-01-01T10:05:00)"


def test_plan_for_minute_cron_runs_directly():
    spec = parse_spec({"schedule": "0 9 * * 1-5", "timezone": "Europe/Paris"}, NOW)
    (only,) = plan(spec, NOW)
    assert (only.suffix, only.expression, only.timezone, only.delivery, only.one_time) == (
        "",
        "cron(0 9 ? * 2-6 *)",
        "Europe/Paris",
        "run",
        False,
    )


def test_plan_for_interval_starts_at_the_first_fire():
    spec = parse_spec({"interval": {"every": 2, "period": "hours"}}, NOW)
    (only,) = plan(spec, NOW)
    assert only.expression == "rate(2 hours)"
    assert only.start_date == NOW + timedelta(hours=2)


def test_plan_for_subminute_forms_is_a_heartbeat_on_the_sqs_path():
    for fields in (
        {"schedule": "@every 30s"},
        {"schedule": "*/10 * * * * *"},
        {"interval": {"every": 90, "period": "seconds"}},
    ):
        (only,) = plan(parse_spec(fields, NOW), NOW)
        assert (only.expression, only.delivery) == ("rate(1 minute)", "plan")


def test_plan_for_due_times():
    near = parse_spec({"due_time": "30s"}, NOW)
    assert plan(near, NOW) == []  # the API sends the SQS delayed message itself
    far = parse_spec({"due_time": "2h"}, NOW)
    (due,) = plan(far, NOW)
    assert (due.suffix, due.expression, due.one_time, due.delivery) == (
        "due",
        "at(2030-01-01T13:59:00)",
        True,
        "plan",
    )


def test_plan_for_due_time_then_schedule_starts_the_schedule_at_the_due_time():
    spec = parse_spec({"due_time": "2030-01-02T00:00:00Z", "schedule": "@hourly"}, NOW)
    due, recurring = plan(spec, NOW)
    assert due.suffix == "due"
    assert recurring.expression == "cron(0 * * * ? *)"
    assert recurring.start_date == datetime(2030, 1, 2, tzinfo=UTC)


def test_raw_eventbridge_expressions_pass_through():
    (only,) = plan(parse_spec({"schedule": "cron(0 12 ? * 6L *)"}, NOW), NOW)
    assert only.expression == "cron(0 12 ? * 6L *)"
    (rate,) = plan(parse_spec({"schedule": "rate(1 days)"}, NOW), NOW)
    assert rate.expression == "rate(1 day)"


def test_vixie_split_plans_two_schedules():
    main, dow = plan(parse_spec({"schedule": "30 4 1,15 * 5"}, NOW), NOW)
    assert (main.suffix, dow.suffix) == ("", "dow")
