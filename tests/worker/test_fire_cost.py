"""What one scheduled fire costs in AWS calls (issue 17 §3): its floor is 2, the conditional
update that counts it on its job (and returns the job) and the conditional put of its run;
running the task adds the outcome write. No transaction (two write units per item), no GetItem
of the job: the schedule's input carries what the fire needs to be decided (the job's spec),
and the update's condition checks that it is still the job's."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client
import pytest

from app import worker as worker_handler
from chalicelib import services
from chalicelib.handoff import send_fire
from chalicelib.storage import JobModel
from tests.api.helpers import create
from tests.conftest import schedules_of
from tests.testtasks import calls

#: A fire run to its recorded outcome: count it on the job, put its run, write its outcome.
FIRE_TO_RECORD = Counter({"UpdateItem": 2, "PutItem": 1})


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Every AWS call made inside, by operation name."""
    seen: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: Any) -> Any:
        seen[operation] += 1
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def _input(scheduler: Any, job_id: str, when: str) -> dict[str, Any]:
    """The event EventBridge would send: the schedule's Input with the scheduled time."""
    (schedule,) = schedules_of(scheduler, job_id).values()
    text = schedule["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", when)
    return json.loads(text)


def test_a_scheduled_fire_costs_its_floor_of_two_calls_then_the_outcome(client, scheduler):
    job = create(client, task="tests.count", kwargs={"key": "floor"}, schedule="0 9 * * *")
    event = _input(scheduler, job["id"], "2030-01-07T09:00:00Z")
    with counting() as seen:
        answer = worker_handler(event, None)
    assert answer["status"] == "SUCCEEDED"
    assert seen == FIRE_TO_RECORD
    assert calls("floor") == 1
    after = client.get(f"/v1/jobs/{job['id']}").json_body
    assert (after["total_run_count"], after["last_run_id"]) == (1, answer["run_id"])
    assert after["next_run_at"] == "2030-01-08T09:00:00Z"


def test_a_second_precision_fire_from_sqs_costs_the_same(client):
    job = create(client, task="tests.count", kwargs={"key": "sqs"}, schedule="@every 10s")
    stored = JobModel.get("default", job["id"])
    sent: list[dict[str, Any]] = []

    class Recorder:
        def send(self, queue: str, body: dict[str, Any], delay: int = 0) -> None:
            sent.append(body)

    send_fire(Recorder(), stored, stored.next_run_at, stored.next_run_at)  # type: ignore[arg-type]
    with counting() as seen:
        services.worker().handle_message(sent[0], None)
    assert seen == FIRE_TO_RECORD
    assert calls("sqs") == 1


def test_a_fire_from_a_schedule_written_before_its_input_carried_the_spec_reads_the_job(
    client, scheduler
):
    """Schedules created by an earlier version keep their input until the job is next written:
    their fires read the job (one GetItem more), and run all the same."""
    job = create(client, task="tests.count", kwargs={"key": "old"}, schedule="0 9 * * *")
    event = _input(scheduler, job["id"], "2030-01-07T09:00:00Z")
    event.pop("spec")
    with counting() as seen:
        answer = worker_handler(event, None)
    assert answer["status"] == "SUCCEEDED"
    assert seen == FIRE_TO_RECORD + Counter({"GetItem": 1})
    assert calls("old") == 1


def test_a_fire_whose_job_changed_since_its_schedule_was_written_follows_the_job(client, scheduler):
    """The input's spec is a claim the update checks: a job rescheduled, paused or deleted
    since fails the condition, and only then is the job read, to know why."""
    job = create(client, task="tests.count", kwargs={"key": "moved"}, schedule="0 9 * * *")
    event = _input(scheduler, job["id"], "2030-01-07T09:00:00Z")
    client.patch(f"/v1/jobs/{job['id']}", body=json.dumps({"schedule": "0 10 * * *"}))
    answer = worker_handler(event, None)
    assert answer["status"] == "SUCCEEDED"  # 09:00 is no fire time, but EventBridge fired it
    client.post(f"/v1/jobs/{job['id']}/pause")
    paused = worker_handler(dict(event, scheduled_time="2030-01-08T10:00:00Z"), None)
    assert paused["status"] == "SKIPPED"
    reason = client.get(f"/v1/tasks/{paused['run_id']}").json_body["reason"]
    assert reason == "job is paused"
    assert calls("moved") == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"schedule": "0 9 * * mon-fri", "timezone": "Europe/Paris"},
        {"schedule": None, "interval": {"every": 5, "period": "minutes"}},
        {"schedule": "cron(0 9 ? * 2-6 *)"},
        {"schedule": "@hourly", "repeats": 3, "end_at": "2031-01-01T00:00:00Z"},
        {"schedule": None, "crontab": {"minute": "0", "hour": "9", "day_of_month": "1,15"}},
        {"schedule": "0 9 * * *", "due_time": "1h"},
    ],
)
def test_every_schedule_that_runs_a_job_carries_its_spec_exactly_as_stored(
    client, scheduler, fields
):
    """The update compares the input's spec with the stored one as text: any difference would
    send every fire down the slow path."""
    job = create(client, **fields)
    stored = JobModel.spec.serialize(JobModel.get("default", job["id"]).spec)
    carried = [
        json.loads(s["Target"]["Input"]).get("spec")
        for name, s in schedules_of(scheduler, job["id"]).items()
        if not name.endswith("-due")
    ]
    assert carried and all(JobModel.spec.serialize(c) == stored for c in carried)
