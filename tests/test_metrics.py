"""EMF metrics (issue 19): what the executor's metrics observer prints for fires, outcomes,
retries and dead letters, read back from captured stdout and checked against the embedded
metric format's rules; dimensions are the service and the queue, never a job or tenant id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import worker as worker_handler
from chalicelib import execution, metrics
from tests.api.helpers import create, get_task, submit_task
from tests.conftest import drain


def check_emf(doc: dict[str, Any]) -> None:
    """The rules of CloudWatch's embedded metric format that CloudWatch Logs enforces."""
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 0
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "Beatless"
    for dimension_set in directive["Dimensions"]:
        assert len(dimension_set) <= 30
        for name in dimension_set:
            assert isinstance(doc[name], str) and doc[name], name
    assert 0 < len(directive["Metrics"]) <= 100
    for metric in directive["Metrics"]:
        assert set(metric) == {"Name", "Unit"}
        assert metric["Unit"] in ("Count", "Milliseconds")
        assert isinstance(doc[metric["Name"]], (int, float)), metric


def documents(text: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    for doc in docs:
        check_emf(doc)
    return docs


def metric_names(doc: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def of_run(docs: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc.get("run_id") == run_id]


@pytest.fixture
def observed(client, monkeypatch, capsys):
    """The client with the deployed metrics observer installed; ``read()`` returns the EMF
    documents printed since the last read."""
    monkeypatch.setattr(execution, "OBSERVERS", [metrics.observe])
    capsys.readouterr()
    return lambda: documents(capsys.readouterr().out)


def test_outcomes_retries_and_dead_letters_are_counted_by_queue(client, observed):
    ok = submit_task(client, task="echo", args=[1])
    failing = submit_task(
        client, task="fail", args=["boom"], retry={"max_attempts": 2, "initial_seconds": 0}
    )
    cancelled = submit_task(client, task="tests.cancel_self", queue="high")
    drain()
    assert get_task(client, failing["id"])["status"] == "FAILED"
    docs = observed()

    (succeeded,) = of_run(docs, ok["id"])
    assert metric_names(succeeded) == {"Runs", "RunsSucceeded", "RunDuration"}
    assert succeeded["Runs"] == 1 and succeeded["RunsSucceeded"] == 1
    assert succeeded["RunDuration"] >= 0 and succeeded["Queue"] == "default"

    retried, failed, dead = of_run(docs, failing["id"])
    assert metric_names(retried) == {"Retries", "RunDuration"} and retried["attempt"] == 1
    assert metric_names(failed) == {"Runs", "RunsFailed", "RunDuration"}
    assert failed["attempt"] == 2 and failed["status"] == "FAILED"
    assert metric_names(dead) == {"DeadLettered"} and dead["DeadLettered"] == 1

    (stopped,) = of_run(docs, cancelled["id"])
    assert metric_names(stopped) == {"Runs", "RunsCancelled", "RunDuration"}
    assert stopped["Queue"] == "high"


def test_a_fire_reports_its_lag_from_the_scheduled_time_to_the_start(client, observed):
    job = create(client, task="echo", schedule="0 2 * * *")
    when = (datetime.now(UTC) - timedelta(seconds=3)).replace(microsecond=0)
    event = {
        "job_id": job["id"],
        "tenant": "default",
        "schedule": f"job-{job['id']}",
        "scheduled_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    answer = worker_handler(event, None)
    assert answer["status"] == "SUCCEEDED"
    docs = of_run(observed(), answer["run_id"])
    (fire,) = [doc for doc in docs if "Fires" in doc]
    assert metric_names(fire) == {"Fires", "FireLag"} and fire["Fires"] == 1
    started = datetime.fromisoformat(get_task(client, answer["run_id"])["started_at"])
    assert fire["FireLag"] == pytest.approx((started - when).total_seconds() * 1000, abs=1)
    assert fire["FireLag"] >= 3000
    assert fire["_aws"]["Timestamp"] == pytest.approx(started.timestamp() * 1000, abs=1)
    assert any("RunsSucceeded" in doc for doc in docs)


def test_a_manual_run_is_no_fire(client, observed):
    job = create(client, task="echo", schedule="0 2 * * *")
    run = client.post(f"/v1/jobs/{job['id']}/trigger").json_body
    drain()
    docs = of_run(observed(), run["id"])
    assert docs and not any("Fires" in doc for doc in docs)


def test_dimensions_are_the_service_and_the_queue_and_ids_are_plain_properties(client, observed):
    submit_task(client, task="echo", args=[1])
    drain()
    (doc,) = observed()
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service", "Queue"]]
    assert doc["Service"] == "beatless-dev"
    assert doc["tenant"] == "default" and doc["run_id"]


def test_a_document_refuses_a_metric_it_does_not_know():
    with pytest.raises(AssertionError, match="not beatless metrics"):
        metrics.document({"RunsPerTenant": 1}, "default")
