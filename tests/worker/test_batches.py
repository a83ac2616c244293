"""SQS batches and the Lambda's time: a run is claimed (or a fire admitted) only with the time it
needs; what is not processed comes back through ``batchItemFailures``; a batch that failed
whole raises, so Lambda's Errors metric sees it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from app import worker as worker_handler
from chalicelib import services
from chalicelib.clock import needed_seconds
from chalicelib.local.standins import SqsPump
from chalicelib.settings import get_settings
from chalicelib.storage import JobModel, RunModel
from chalicelib.worker import BatchFailed, NoTimeLeft
from tests.api.helpers import create
from tests.api.helpers import get_task as get
from tests.api.helpers import submit_task as submit
from tests.conftest import drain, queue_depth
from tests.testtasks import calls


class Lambda:
    """A Lambda context whose remaining time runs down with the clock from ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._end - time.monotonic()) * 1000), 0)


class Dwindling:
    """A Lambda context that reports ``first`` seconds on its first look, ``then`` afterwards
    (time that vanished between the check and the start of the run)."""

    def __init__(self, first: float, then: float) -> None:
        self._answers = [first]
        self._then = then

    def get_remaining_time_in_millis(self) -> int:
        return int((self._answers.pop(0) if self._answers else self._then) * 1000)


def record(message_id: str, body: Any) -> dict[str, Any]:
    return {"messageId": message_id, "body": body if isinstance(body, str) else json.dumps(body)}


def run_message(run: dict) -> dict[str, Any]:
    return {"run_id": run["id"], "tenant": "default"}


def fire_message(job: dict) -> dict[str, Any]:
    return {
        "kind": "fire",
        "job_id": job["id"],
        "tenant": "default",
        "scheduled_time": job["next_run_at"],
    }


def test_a_run_is_not_claimed_without_the_time_it_needs(client):
    run = submit(client, task="tests.count", kwargs={"key": "short"})
    event = {"Records": [record("m1", run_message(run))]}
    with pytest.raises(BatchFailed) as failed:
        services.worker().handle_sqs(event, Lambda(2))
    assert failed.value.failures == [{"itemIdentifier": "m1"}]
    still = get(client, run["id"])
    assert (still["status"], still["attempt"], still["started_at"]) == ("QUEUED", 1, None)
    assert still["attempts"] == []
    assert calls("short") == 0
    drain()  # its own message comes back and runs it, as the first attempt
    done = get(client, run["id"])
    assert (done["status"], done["attempt"], calls("short")) == ("SUCCEEDED", 1, 1)


def test_a_run_with_a_short_timeout_needs_only_that_and_the_margin(client):
    run = submit(client, task="tests.count", kwargs={"key": "brief"}, timeout_seconds=2)
    event = {"Records": [record("m1", run_message(run))]}
    answer = services.worker().handle_sqs(event, Lambda(needed_seconds(2) + 1))
    assert answer == {"batchItemFailures": []}
    assert get(client, run["id"])["status"] == "SUCCEEDED"


def test_once_a_message_lacks_time_the_rest_of_the_batch_comes_back(client):
    first = submit(client, task="sleep", kwargs={"seconds": 1})
    second = submit(client, task="tests.count", kwargs={"key": "second"})
    third = submit(client, task="tests.count", kwargs={"key": "third"})
    event = {
        "Records": [
            record("m1", run_message(first)),
            record("m2", run_message(second)),
            record("m3", run_message(third)),
        ]
    }
    answer = services.worker().handle_sqs(event, Lambda(needed_seconds(300) + 0.5))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert get(client, first["id"])["status"] == "SUCCEEDED"
    for run in (second, third):
        assert get(client, run["id"])["status"] == "QUEUED"
    assert calls("second") == calls("third") == 0


def test_a_claimed_run_with_no_time_left_before_its_first_step_goes_back_to_queued(client):
    run = submit(client, task="tests.count", kwargs={"key": "claimed"})
    event = {"Records": [record("m1", run_message(run))]}
    with pytest.raises(BatchFailed):
        services.worker().handle_sqs(event, Dwindling(first=600, then=0.5))
    back = get(client, run["id"])
    assert (back["status"], back["attempt"], back["started_at"]) == ("QUEUED", 1, None)
    assert back["attempts"] == []  # not an attempt
    assert back["steps"][0]["status"] is None
    assert calls("claimed") == 0
    stored = RunModel.get("default", run["id"])
    assert stored.lease_shard.startswith("QUEUED#")  # the reaper's dispatch sweep still sees it
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["attempt"], calls("claimed")) == ("SUCCEEDED", 1, 1)
    assert [(a["number"], a["outcome"]) for a in done["attempts"]] == [(1, "SUCCEEDED")]


def test_a_claimed_run_cancelled_before_it_could_start_ends_cancelled(client):
    run = submit(client, task="tests.count", kwargs={"key": "cancelled-claim"})

    class CancelledMeanwhile:
        """Time on the first look; then a cancel arrives and the time is gone."""

        looks = 0

        def get_remaining_time_in_millis(self) -> int:
            self.looks += 1
            if self.looks == 1:
                return 600_000
            if self.looks == 2:
                assert client.delete(f"/v1/tasks/{run['id']}").status_code == 200
            return 500

    event = {"Records": [record("m1", run_message(run))]}
    assert services.worker().handle_sqs(event, CancelledMeanwhile()) == {"batchItemFailures": []}
    done = get(client, run["id"])
    assert (done["status"], done["steps"][0]["status"]) == ("CANCELLED", "CANCELLED")
    assert done["reason"] == "cancel requested before it started"
    assert calls("cancelled-claim") == 0


def test_a_fire_is_not_admitted_without_the_time_it_needs(client):
    job = create(client, schedule="@every 10s", task="tests.count", kwargs={"key": "fire"})
    event = {"Records": [record("f1", fire_message(job))]}
    with pytest.raises(BatchFailed):
        services.worker().handle_sqs(event, Lambda(2))
    assert client.get(f"/v1/jobs/{job['id']}/runs").json_body["items"] == []
    assert client.get(f"/v1/jobs/{job['id']}").json_body["total_run_count"] == 0
    answer = services.worker().handle_sqs(event, Lambda(600))  # redelivered with time
    assert answer == {"batchItemFailures": []}
    assert calls("fire") == 1


def test_an_admitted_fire_with_no_time_left_goes_back_to_queued_and_still_runs(client):
    job = create(client, schedule="@every 10s", task="tests.count", kwargs={"key": "late-fire"})
    event = {"Records": [record("f1", fire_message(job))]}
    with pytest.raises(BatchFailed):
        services.worker().handle_sqs(event, Dwindling(first=600, then=0.5))
    (run,) = client.get(f"/v1/jobs/{job['id']}/runs").json_body["items"]
    assert (run["status"], run["attempt"], run["trigger"]) == ("QUEUED", 1, "schedule")
    assert calls("late-fire") == 0
    # The fire's redelivery is a duplicate; the run went to its queue on its own message.
    assert services.worker().handle_sqs(event, Lambda(600)) == {"batchItemFailures": []}
    drain()
    assert calls("late-fire") == 1
    assert get(client, run["id"])["status"] == "SUCCEEDED"


def test_a_scheduled_fire_without_time_raises_so_eventbridge_retries(client):
    job = create(client, task="tests.count", kwargs={"key": "eb"})
    event = {
        "job_id": job["id"],
        "tenant": "default",
        "schedule": f"job-{job['id']}",
        "scheduled_time": "2030-01-07T09:00:00Z",
    }
    with pytest.raises(NoTimeLeft):
        worker_handler(event, Lambda(2))
    assert client.get(f"/v1/jobs/{job['id']}/runs").json_body["items"] == []
    assert worker_handler(event, Lambda(600))["status"] == "SUCCEEDED"
    assert calls("eb") == 1


def test_a_direct_run_invocation_without_time_leaves_the_run_queued(client):
    run = submit(client, task="tests.count", kwargs={"key": "direct"})
    answer = worker_handler({"run_id": run["id"], "tenant": "default"}, Lambda(2))
    assert answer["status"] == "QUEUED"
    assert "time" in answer["error"]
    assert get(client, run["id"])["status"] == "QUEUED"
    assert calls("direct") == 0
    assert worker_handler({"run_id": run["id"], "tenant": "default"}, Lambda(600))["status"] == (
        "SUCCEEDED"
    )


def test_a_batch_whose_every_message_failed_raises(client, caplog):
    event = {"Records": [record("m1", "not json"), record("m2", {"kind": "fire"})]}
    with pytest.raises(BatchFailed) as failed:
        services.worker().handle_sqs(event, Lambda(600))
    assert failed.value.failures == [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]
    assert "every message of the batch failed" in caplog.text
    # Without a Lambda context (tests, the fault harness) the answer is returned as is.
    assert services.worker().handle_sqs(event) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]
    }
    assert services.worker().handle_sqs({"Records": []}, Lambda(600)) == {"batchItemFailures": []}


def test_partial_failures_are_reported_not_raised(client):
    good = submit(client, task="echo")
    event = {"Records": [record("m1", run_message(good)), record("m2", "not json")]}
    answer = services.worker().handle_sqs(event, Lambda(600))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert get(client, good["id"])["status"] == "SUCCEEDED"


def _pump(handle) -> tuple[SqsPump, Any, str]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().queue_name("default"))["QueueUrl"]
    return SqsPump(sqs, url, handle, ThreadPoolExecutor(max_workers=1)), sqs, url


def _one(sqs: Any, url: str) -> dict[str, Any]:
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    return message


def test_the_local_sqs_source_survives_a_failed_batch_and_leaves_it_for_redelivery(client):
    pump, sqs, url = _pump(services.worker().handle_sqs)
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    pump._deliver(_one(sqs, url))  # the worker raises BatchFailed: logged, not deleted
    assert queue_depth(get_settings().queue_name("default"))["visible"] == 0  # in flight
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_the_local_sqs_source_gives_the_worker_a_lambda_context(client):
    seen: list[Any] = []

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        seen.append(context)
        return {"batchItemFailures": []}

    pump, sqs, url = _pump(handle)
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    pump._deliver(_one(sqs, url))
    (context,) = seen
    assert 899_000 < context.get_remaining_time_in_millis() <= 900_000


def test_a_fire_is_checked_against_its_jobs_timeout(client):
    job = create(client, schedule="@every 10s", task="tests.count", kwargs={"key": "timeout"})
    stored = JobModel.get("default", job["id"])
    stored.update(actions=[JobModel.timeout_seconds.set(3)])
    event = {"Records": [record("f1", fire_message(job))]}
    # (+3: the worker may first wait up to 2 s for the fire's second)
    answer = services.worker().handle_sqs(event, Lambda(needed_seconds(3) + 3))
    assert answer == {"batchItemFailures": []}
    assert calls("timeout") == 1
