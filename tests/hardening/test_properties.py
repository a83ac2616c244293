"""Property tests (hypothesis) for schedule parsing, translation and request bodies: whatever a
client sends, the answer is a spec or a ``ScheduleError`` naming the field, never a crash; what
parses, translates into well-formed EventBridge expressions and fires on times it matches.

Examples per test: 150 and derandomized in make test; 3,000 and random under make fuzz.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.api import models
from chalicelib.errors import InvalidRequest, PayloadTooLarge
from chalicelib.schedules import cron as cronlib
from chalicelib.schedules.durations import (
    format_seconds,
    parse_due,
    parse_go_duration,
    parse_instant,
)
from chalicelib.schedules.errors import ScheduleError
from chalicelib.schedules.eventbridge import plan
from chalicelib.schedules.spec import parse_spec

QUICK = int(os.environ.get("BEATLESS_FUZZ_EXAMPLES", "5")) <= 5
settings.register_profile(
    "beatless",
    max_examples=150 if QUICK else 3000,
    deadline=None,
    derandomize=QUICK,  # make test is reproducible; make fuzz explores
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("beatless")

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
#: What JSON can carry, unicode, huge and non-finite numbers included.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
cron_tokens = st.sampled_from(
    ["*", "?", "L", "W", "#", "/", "-", ",", "0", "1", "5", "7", "15", "23", "31", "59", "60",
     "99", "mon", "fri", "jan", "dec", "*/5", "1-5", "5-1", "2#3", "LW", "15W", "1L", "-1",
     "99999999999999999999", "٣", "½"]
)  # fmt: skip
cron_fields = st.lists(cron_tokens, min_size=1, max_size=3).map("".join)
cron_text = st.lists(cron_fields, min_size=1, max_size=7).map(" ".join)


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    """One well-formed cron field over [low, high]: *, */n, a, a-b, a,b,c, a-b/n."""
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        st.integers(1, max(1, high - low)).map(lambda n: f"*/{n}"),
        value.map(str),
        st.tuples(value, value).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.lists(value, min_size=2, max_size=4, unique=True).map(lambda v: ",".join(map(str, v))),
        st.tuples(value, value, st.integers(1, 10)).map(
            lambda abn: f"{min(abn[:2])}-{max(abn[:2])}/{abn[2]}"
        ),
    )


unix_cron = st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 7)).map(
    " ".join
)
dapr_cron = st.tuples(_field(0, 59), unix_cron).map(" ".join)
schedule_text = st.one_of(
    unix_cron,
    dapr_cron,
    unix_cron.map(lambda text: f"CRON_TZ=Europe/Paris {text}"),
    st.integers(1, 10**6).map(lambda n: f"@every {n}s"),
    st.sampled_from(sorted(cronlib.MACROS)),
    cron_text,
    st.sampled_from(
        ["@daily", "@every ", "@hourly", "CRON_TZ=Europe/Paris ", "cron(", "rate("]
    ).flatmap(lambda head: st.text(max_size=30).map(lambda tail: head + tail)),
    cron_text.map(lambda text: f"cron({text})"),
    st.text(max_size=60),
)
durations = st.one_of(
    st.tuples(st.integers(0, 10**5), st.sampled_from(["ms", "s", "m", "h"])).map(
        lambda nu: f"{nu[0]}{nu[1]}"
    ),
    st.integers(0, 10**5).map(lambda n: f"PT{n}S"),
    st.text(alphabet="0123456789.+-hmsun PTDWYM", max_size=20),
    st.integers(min_value=0, max_value=10**25).map(lambda n: f"{n}s"),
    st.text(max_size=20),
)
instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 11, 23), max_value=datetime(2040, 1, 1)).map(
        lambda d: d.replace(microsecond=0).isoformat() + "Z"
    ),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.text(alphabet="0123456789-:TZ+.", max_size=30),
)
timezones = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Nope/X"])
schedule_fields = st.fixed_dictionaries(
    {},
    optional={
        "schedule": schedule_text | schedule_text | json_values,
        "crontab": st.fixed_dictionaries(
            {},
            optional={
                "minute": _field(0, 59),
                "hour": _field(0, 23),
                "day_of_week": _field(0, 6),
                "day_of_month": _field(1, 31),
                "month_of_year": _field(1, 12),
            },
        )
        | st.dictionaries(
            st.sampled_from([*list(cronlib.RANGES)[1:6], "bogus"]),
            cron_fields | st.integers(min_value=-100, max_value=10**20) | json_values,
            max_size=5,
        )
        | json_values,
        "interval": st.fixed_dictionaries(
            {
                "every": st.integers(1, 10**4) | st.integers(-5, 10**12) | json_values,
                "period": st.sampled_from(["seconds", "minutes", "hours", "days"])
                | st.text(max_size=8),
            }
        )
        | json_values,
        "due_time": durations | instants | json_values,
        "timezone": timezones | json_values,
        "start_at": instants | json_values,
        "end_at": instants | json_values,
        "ttl": durations | instants,
        "repeats": st.integers(-5, 10**12) | json_values,
    },
)
#: One schedule form with well-formed values, and well-formed modifiers: mostly parses.
plausible_fields = st.tuples(
    st.one_of(
        schedule_text.map(lambda text: {"schedule": text}),
        st.fixed_dictionaries(
            {"minute": _field(0, 59), "hour": _field(0, 23), "day_of_week": _field(0, 6)}
        ).map(lambda crontab: {"crontab": crontab}),
        st.tuples(st.integers(1, 10**4), st.sampled_from(["seconds", "minutes", "hours"])).map(
            lambda ep: {"interval": {"every": ep[0], "period": ep[1]}}
        ),
        durations.map(lambda due: {"due_time": due}),
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "timezone": timezones,
            "start_at": instants,
            "end_at": instants,
            "repeats": st.integers(1, 50),
        },
    ),
).map(lambda pair: pair[0] | pair[1])
EXPRESSION = re.compile(r"^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|hour|day)s?\)|at\(\S+\))$")


def _spec_or_error(fields: dict[str, Any]) -> Any:
    try:
        return parse_spec(fields, NOW)
    except ScheduleError as error:
        assert error.field, error
        assert str(error)
        return None


@given(schedule_fields | plausible_fields)
def test_any_schedule_fields_parse_or_name_the_field(fields):
    spec = _spec_or_error(fields)
    if spec is None:
        return
    try:
        planned = plan(spec, NOW)
    except ScheduleError as error:  # no EventBridge equivalent: a 422 naming the field
        assert error.field
        return
    for schedule in planned:
        assert EXPRESSION.match(schedule.expression), schedule.expression
    fires = spec.fires(NOW, 5)
    assert fires == sorted(set(fires)), "fires are strictly increasing"
    assert all(f > NOW for f in fires)
    if spec.end_at is not None:
        assert all(f <= spec.end_at for f in fires)
    if spec.repeats is not None:
        assert len(fires) <= spec.repeats


@given(schedule_text)
def test_cron_strings_fire_only_on_times_they_match(text):
    spec = _spec_or_error({"schedule": text})
    assume(spec is not None and spec.cron is not None)
    cron = spec.cron
    for fire in spec.fires(NOW, 3):
        local = fire.astimezone(spec.tz)
        assert local.second in cron.seconds
        assert local.minute in cron.minutes
        assert local.hour in cron.hours
        assert cron.day_matches(local.date())


@given(st.integers(min_value=0, max_value=10**6))
def test_whole_second_durations_round_trip(seconds):
    text = format_seconds(seconds)
    count, unit = text.split(" ")
    go = {"day": "h", "days": "h", "hour": "h", "hours": "h", "minute": "m", "minutes": "m"}
    if unit.startswith("day"):
        parsed = parse_go_duration(f"{int(count) * 24}h", "d")
    else:
        parsed = parse_go_duration(f"{count}{go.get(unit, 's')}", "d")
    assert parsed == timedelta(seconds=seconds)


@given(durations | instants)
def test_due_times_parse_or_name_the_field(text):
    try:
        due = parse_due(text, "due_time", NOW)
    except ScheduleError as error:
        assert error.field == "due_time"
        return
    assert due.tzinfo is not None
    assert 1970 <= due.year <= 2199 or due - NOW <= timedelta(days=366 * 100)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31)))
def test_instants_round_trip_through_rfc3339(when):
    aware = when.replace(tzinfo=UTC)
    assert parse_instant(aware.isoformat().replace("+00:00", "Z"), "at") == aware


@given(json_values)
def test_any_json_body_is_a_job_or_a_field_error(body):
    """The request models refuse what they do not take with pydantic's error, which
    ``parse_body`` turns into a 400 naming the field; nothing else escapes."""
    from pydantic import ValidationError

    for model in (models.JobIn, models.JobPatch, models.TaskIn, models.PreviewIn):
        try:
            model.model_validate(body)
        except ValidationError as error:
            assert error.errors()


@pytest.fixture
def parse(monkeypatch):
    """``parse_body`` on raw bytes, without a request: the blueprint's request is faked."""
    from types import SimpleNamespace

    from chalicelib.api import routing

    def run(raw: bytes, model: Any) -> Any:
        bp = SimpleNamespace(current_request=SimpleNamespace(raw_body=raw))
        return routing.parse_body(bp, model)  # type: ignore[arg-type]

    return run


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.text(max_size=100).map(str.encode)
)
def test_any_raw_body_is_parsed_or_refused_with_a_field(parse, raw):
    for model in (models.JobIn, models.TaskIn, models.KeyIn):
        try:
            parse(raw, model)
        except (InvalidRequest, PayloadTooLarge) as error:
            assert error.field


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_integer_fields_take_integral_floats_only(value):
    fields = {"name": "n", "task": "echo", "schedule": "* * * * *", "timeout_seconds": value}
    from pydantic import ValidationError

    try:
        job = models.JobIn.model_validate(fields)
    except ValidationError:
        assert not (value.is_integer() and 1 <= value <= 900)
        return
    assert value.is_integer() and job.timeout_seconds == int(value)
    assert not math.isnan(value)
