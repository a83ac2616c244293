"""Schedule descriptions: EventBridge's L, W and # and stepped fields read as words (issue 18)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.schedules import describe, parse_spec

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"schedule": "cron(0 12 L * ? *)"}, "at 12:00, on the last day of the month (UTC)"),
        ({"schedule": "cron(0 9 LW * ? *)"}, "at 09:00, on the last weekday of the month (UTC)"),
        (
            {"schedule": "cron(0 9 15W * ? *)"},
            "at 09:00, on the weekday nearest day 15 of the month (UTC)",
        ),
        # EventBridge counts Sunday as 1: 6 is Friday.
        (
            {"schedule": "cron(0 9 ? * 6#3 *)", "timezone": "Europe/Paris"},
            "at 09:00, on the third Friday of the month (Europe/Paris)",
        ),
        ({"schedule": "cron(0 9 ? * 2L *)"}, "at 09:00, on the last Monday of the month (UTC)"),
        (
            {"schedule": "*/15 9-17 * * 1-5"},
            "every 15 minutes, between 09:00 and 17:59, Monday through Friday (UTC)",
        ),
        ({"schedule": "*/10 * * * * *"}, "every 10 seconds (UTC)"),
        ({"crontab": {"minute": "0", "hour": "*/2"}}, "every 2 hours (UTC)"),
        (
            {"crontab": {"minute": "*/5", "day_of_week": "fri-mon"}},
            "every 5 minutes, Friday through Monday (UTC)",
        ),
    ],
)
def test_special_and_stepped_fields_are_described_in_words(fields, text):
    assert describe(parse_spec(fields, NOW)) == text


def test_short_sets_keep_their_spelled_out_description():
    spec = parse_spec({"schedule": "0 0 1,15 * *"}, NOW)
    assert describe(spec) == "at 00:00 on day 1 and 15 of the month (UTC)"


def test_two_restricted_celery_day_fields_are_not_described_as_either():
    """Celery ANDs day-of-month and day-of-week; cron-descriptor would say "or"."""
    spec = parse_spec(
        {"crontab": {"minute": "*/5", "day_of_month": "1-5", "day_of_week": "mon"}}, NOW
    )
    assert " and on Monday" in describe(spec)
    assert " or " not in describe(spec)


def test_the_descriptions_library_is_not_imported_with_the_app():
    probe = "import app, sys\nprint('cron_descriptor' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
