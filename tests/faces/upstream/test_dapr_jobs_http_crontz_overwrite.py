"""Dapr's ``http/crontz.go`` and ``http/overwrite.go``, ported (upstream: ``dapr/dapr``,
``tests/integration/suite/daprd/jobs/http/``).

Upstream waits up to 60 s for a ``CRON_TZ=`` job to fire; EventBridge Scheduler does not run under
moto, so the port reads the instant beatless will fire the job at (``next_run_at`` of the native
job) and asserts the same thing: due at the zone's wall clock, within upstream's window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.helpers import send
from tests.faces.upstream.test_dapr_jobs_http import assert_dapr_error

#: beatless evaluates a schedule without a prefix in UTC (upstream: the scheduler's local zone).
DEFAULT_ZONE = ZoneInfo("UTC")


def offset_zone() -> ZoneInfo:
    """Upstream's ``offsetZone``: the first candidate at least 3 h from the default zone."""
    now = datetime.now(UTC)
    local = now.astimezone(DEFAULT_ZONE).utcoffset() or timedelta()
    for name in ("Asia/Kolkata", "Pacific/Marquesas", "Asia/Tokyo", "Pacific/Kiritimati"):
        zone = ZoneInfo(name)
        offset = now.astimezone(zone).utcoffset() or timedelta()
        if abs(offset - local) >= timedelta(hours=3):
            return zone
    raise AssertionError("no candidate timezone is far enough from the default zone")


def _schedule(client: Any, name: str, schedule: str) -> None:
    response = send(client, "POST", f"/v1.0/jobs/{name}", {"schedule": schedule})
    assert response.status_code == 204, response.json_body


def _next_run(client: Any, name: str) -> datetime:
    (job,) = [j for j in client.get("/v1/jobs").json_body["items"] if j["name"] == name]
    return datetime.fromisoformat(job["next_run_at"].replace("Z", "+00:00"))


# --- http/crontz.go ----------------------------------------------------------------------------


# tests/integration/suite/daprd/jobs/http/crontz.go: crontz, "with CRON_TZ prefix the job fires
# at the zone's wall clock"
def test_crontz_with_cron_tz_prefix_fires_at_the_zones_wall_clock(client):
    zone = offset_zone()
    now = datetime.now(UTC)
    target = now.astimezone(zone) + timedelta(seconds=20)
    _schedule(
        client, "crontz-honoured", f"CRON_TZ={zone.key} * {target.minute} {target.hour} * * *"
    )
    due = _next_run(client, "crontz-honoured")
    assert now - timedelta(seconds=1) <= due <= now + timedelta(seconds=60)  # upstream's window
    wall = due.astimezone(zone)
    assert (wall.hour, wall.minute) == (target.hour, target.minute)
    assert client.delete("/v1.0/jobs/crontz-honoured").status_code == 204


# tests/integration/suite/daprd/jobs/http/crontz.go: crontz, "an unknown timezone is rejected"
# Documented difference: upstream answers 500; beatless 400 (the client's schedule is wrong).
def test_crontz_an_unknown_timezone_is_rejected(client):
    body = '{"schedule": "CRON_TZ=Not/AZone 0 0 9 * * *"}'
    response = send(client, "POST", "/v1.0/jobs/crontz-badzone", body)
    assert_dapr_error(response, 400, "DAPR_SCHEDULER_SCHEDULE_JOB")


# tests/integration/suite/daprd/jobs/http/crontz.go: crontz, "a timezone prefix on an @every
# schedule is rejected"
# Documented difference: upstream answers 500; beatless 400 (the client's schedule is wrong).
def test_crontz_a_timezone_prefix_on_an_every_schedule_is_rejected(client):
    body = '{"schedule": "CRON_TZ=Europe/Rome @every 1h"}'
    response = send(client, "POST", "/v1.0/jobs/crontz-every", body)
    assert_dapr_error(response, 400, "DAPR_SCHEDULER_SCHEDULE_JOB")


# tests/integration/suite/daprd/jobs/http/crontz.go: crontz, "without the prefix the same wall
# clock is a different instant" (beatless's default zone is UTC, upstream's the host's)
def test_crontz_without_the_prefix_the_same_wall_clock_is_a_different_instant(client):
    zone = offset_zone()
    now = datetime.now(UTC)
    target = now.astimezone(zone) + timedelta(seconds=20)
    _schedule(client, "crontz-absent", f"* {target.minute} {target.hour} * * *")
    assert _next_run(client, "crontz-absent") > now + timedelta(seconds=20)


# --- http/overwrite.go -------------------------------------------------------------------------


def _read_back(client: Any, name: str) -> dict[str, Any]:
    """What upstream reads over gRPC, over HTTP GET (an unset ``repeats`` is 0 in protobuf)."""
    got = client.get(f"/v1.0/jobs/{name}")
    assert got.status_code == 200, got.json_body
    return {"schedule": got.json_body.get("schedule"), "repeats": got.json_body.get("repeats", 0)}


# tests/integration/suite/daprd/jobs/http/overwrite.go: overwrite, "overwrite if exists"
def test_overwrite_if_exists(client):
    requests = [
        ('{"schedule": "@daily"}', {"schedule": "@daily", "repeats": 0}),
        (
            '{"schedule": "@weekly", "repeats": 3, "overwrite": true, "due_time": "10s", '
            '"ttl": "11s"}',
            {"schedule": "@weekly", "repeats": 3},
        ),
    ]
    for body, expected in requests:
        response = send(client, "POST", "/v1.0/jobs/overwrite1", body)
        assert response.status_code == 204
        assert response.body == b""
        assert _read_back(client, "overwrite1") == expected


# tests/integration/suite/daprd/jobs/http/overwrite.go: overwrite, "do not overwrite if exist"
def test_overwrite_do_not_overwrite_if_exist(client):
    requests = [
        ('{"schedule": "@daily"}', 204),
        ('{"schedule": "@daily", "repeats": 3, "due_time": "10s", "ttl": "11s"}', 409),
        (
            '{"schedule": "@daily", "repeats": 3, "overwrite": false, "due_time": "10s", '
            '"ttl": "11s"}',
            409,
        ),
    ]
    for body, status in requests:
        assert send(client, "POST", "/v1.0/jobs/overwrite2", body).status_code == status
        assert _read_back(client, "overwrite2") == {"schedule": "@daily", "repeats": 0}
