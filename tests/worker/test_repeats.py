"""``repeats`` counts the schedule's fires; a manual trigger is an extra run (found by the
state machine in tests/hardening/test_state_machine.py: two triggers used up a job's repeats,
so its due fire never ran)."""

from __future__ import annotations

from app import worker
from tests.api.helpers import create, send
from tests.conftest import drain


def test_manual_triggers_do_not_use_up_repeats(client):
    job = create(client, task="tests.count", kwargs={"key": "rep"}, schedule="@hourly", repeats=2)
    for _ in range(3):
        assert send(client, "POST", f"/v1/jobs/{job['id']}/trigger").status_code == 202
    drain()
    fire = {"job_id": job["id"], "tenant": "default"}
    for hour in (1, 2, 3):
        answer = worker(fire | {"scheduled_time": f"2030-01-01T0{hour}:00:00Z"}, None)
        assert answer["status"] == ("SUCCEEDED" if hour < 3 else "SKIPPED"), answer
    got = client.get(f"/v1/jobs/{job['id']}").json_body
    assert got["total_run_count"] == 5  # three triggers and two fires
    assert got["next_run_at"] is None
