"""Ad-hoc runs, steps, cancellation, failures, retries and logs, through HTTP and the worker."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib import services
from chalicelib.settings import get_settings
from tests.api.helpers import create, send
from tests.api.helpers import get_task as get
from tests.api.helpers import submit_task as submit
from tests.conftest import drain, queue_depth
from tests.testtasks import calls


def test_ad_hoc_task_is_queued_then_run_by_the_queue_handler(client):
    run = submit(client, task="echo", args=[1], kwargs={"a": 2}, data={"d": 3})
    assert run["status"] == "QUEUED"
    assert run["queue"] == "default"
    assert drain() == 1
    done = get(client, run["id"])
    assert done["status"] == "SUCCEEDED"
    assert done["result"] == {"args": [1], "kwargs": {"a": 2}}
    assert done["started_at"] and done["ended_at"]


def test_task_context_carries_the_run(client):
    run = submit(client, task="tests.context", data={"x": 1}, queue="high")
    drain()
    result = get(client, run["id"])["result"]
    assert result == {
        "run_id": run["id"],
        "attempt": 1,
        "data": {"x": 1},
        "job_id": None,
        "remaining_positive": True,
        "cancelled": False,
    }


def test_steps_run_in_order_passing_results_on(client):
    run = submit(
        client,
        steps=[
            {"task": "tests.add", "kwargs": {"n": 1}},
            {"task": "tests.add", "kwargs": {"n": 10}},
            {"task": "tests.add", "kwargs": {"n": 100}},
        ],
    )
    drain()
    done = get(client, run["id"])
    assert done["status"] == "SUCCEEDED"
    assert [s["result"] for s in done["steps"]] == [1, 11, 111]
    assert [s["status"] for s in done["steps"]] == ["SUCCEEDED"] * 3
    assert done["result"] == 111


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "nope"}, "task"),
        ({"steps": [{"task": "echo"}, {"task": "nope"}]}, "steps.1.task"),
        ({}, "task"),
        ({"task": "echo", "steps": [{"task": "echo"}]}, "task"),
        ({"task": "echo", "delay_seconds": 901}, "delay_seconds"),
        ({"task": "echo", "run_at": "soon"}, "run_at"),
        ({"task": "echo", "run_at": "2099-01-01T00:00:00Z"}, "run_at"),
        ({"task": "echo", "retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"task": "echo", "steps": []}, "steps"),
    ],
)
def test_invalid_tasks_are_400s(client, body, field):
    response = send(client, "POST", "/v1/tasks", body)
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["details"]["field"] == field


def test_delayed_task_waits_in_sqs(client):
    submit(client, task="echo", delay_seconds=120)
    assert queue_depth("beatless-default")["delayed"] == 1
    assert drain() == 0


def test_run_at_beyond_sqs_reach_is_re_delayed_not_run_early(client):
    run = submit(
        client,
        task="tests.count",
        kwargs={"key": "later"},
        run_at=(datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    )
    services.worker().execute_run("default", run["id"], None)  # delivered early
    assert calls("later") == 0
    assert get(client, run["id"])["status"] == "QUEUED"
    assert queue_depth("beatless-default")["delayed"] == 2  # the original and the re-delay


def test_cancel_queued_run_never_executes(client):
    run = submit(client, task="tests.count", kwargs={"key": "never"})
    response = client.delete(f"/v1/tasks/{run['id']}")
    assert response.status_code == 200
    assert response.json_body["status"] == "CANCELLED"
    drain()
    assert calls("never") == 0
    assert get(client, run["id"])["status"] == "CANCELLED"


def test_cancel_running_run_stops_at_its_next_check(client):
    run = submit(client, task="sleep", kwargs={"seconds": 10})
    worker = threading.Thread(target=drain)
    worker.start()
    deadline = time.monotonic() + 5
    while get(client, run["id"])["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    response = client.delete(f"/v1/tasks/{run['id']}")
    assert response.status_code == 200
    assert response.json_body["cancel_requested"] is True
    worker.join(timeout=10)
    assert time.monotonic() - started < 3
    done = get(client, run["id"])
    assert done["status"] == "CANCELLED"
    assert done["reason"] == "cancel requested while running"


def test_the_step_that_is_running_reads_running_while_it_runs(client):
    """A reader (Vitam's poll, the console) sees which step is running, not a pending one."""
    run = submit(
        client,
        steps=[{"task": "sleep", "kwargs": {"seconds": 1}}] * 2,
    )
    worker = threading.Thread(target=drain)
    worker.start()
    seen: set[tuple[str, ...]] = set()
    while worker.is_alive():
        seen.add(tuple(str(step.get("status")) for step in get(client, run["id"])["steps"]))
        time.sleep(0.05)
    worker.join()
    assert ("RUNNING", "None") in seen or ("RUNNING", "PENDING") in seen, seen
    assert ("SUCCEEDED", "RUNNING") in seen, seen
    done = get(client, run["id"])
    assert [s["status"] for s in done["steps"]] == ["SUCCEEDED", "SUCCEEDED"]
    assert all(s["started_at"] <= s["ended_at"] for s in done["steps"])


def test_a_run_cancelled_during_its_last_step_never_ends_succeeded(client):
    run = submit(client, task="tests.cancel_self")
    drain()
    done = get(client, run["id"])
    assert done["status"] == "CANCELLED"
    assert done["result"] is None


def test_cancel_between_steps_skips_the_rest(client):
    run = submit(
        client,
        steps=[{"task": "tests.cancel_self"}, {"task": "tests.count", "kwargs": {"key": "after"}}],
    )
    drain()
    done = get(client, run["id"])
    assert done["status"] == "CANCELLED"
    assert calls("after") == 0
    assert [s["status"] for s in done["steps"]] == ["SUCCEEDED", "CANCELLED"]


def test_cancel_of_a_finished_run_is_a_409_naming_the_state(client):
    run = submit(client, task="echo")
    drain()
    response = client.delete(f"/v1/tasks/{run['id']}")
    assert response.status_code == 409
    assert response.json_body["error"]["details"]["status"] == "SUCCEEDED"
    assert "SUCCEEDED" in response.json_body["error"]["message"]


def test_failure_records_exception_message_traceback_and_parks_the_run(client):
    run = submit(client, task="fail", kwargs={"message": "boom"})
    drain()
    done = get(client, run["id"])
    assert done["status"] == "FAILED"
    assert done["exc"] == "TaskFailed"
    assert done["error"] == "boom"
    assert "Traceback" in done["traceback"]
    assert queue_depth(get_settings().failed_queue)["visible"] == 1


def test_exhausted_retries_end_failed(client):
    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "exhaust", "failures": 9},
        retry={"max_attempts": 2, "initial_seconds": 0},
    )
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["attempt"]) == ("FAILED", 2)
    assert done["error"] == "attempt 2 fails"


def test_backoff_delays_the_next_attempt(client):
    run = submit(client, task="fail", retry={"max_attempts": 2, "initial_seconds": 30})
    drain()
    waiting = get(client, run["id"])
    assert (waiting["status"], waiting["attempt"]) == ("QUEUED", 2)
    assert waiting["retry_at"] is not None
    assert queue_depth("beatless-default")["delayed"] == 1


def test_manual_retry_requeues_a_failed_run(client):
    run = submit(client, task="tests.flaky", kwargs={"key": "manual", "failures": 1})
    drain()
    assert get(client, run["id"])["status"] == "FAILED"
    response = client.post(f"/v1/tasks/{run['id']}/retry")
    assert response.status_code == 202
    assert response.json_body["status"] == "QUEUED"
    drain()
    assert get(client, run["id"])["status"] == "SUCCEEDED"
    again = client.post(f"/v1/tasks/{run['id']}/retry")
    assert again.status_code == 409


def test_messages_are_paginated_in_order(client):
    run = submit(client, task="tests.chatty", kwargs={"lines": 5})
    drain()
    first = client.get(f"/v1/tasks/{run['id']}/messages?limit=2").json_body
    assert [m["text"] for m in first["items"]] == ["line 0", "line 1"]
    assert first["items"][1]["level"] == "DEBUG"
    rest = client.get(f"/v1/tasks/{run['id']}/messages?cursor={first['cursor']}").json_body
    assert [m["text"] for m in rest["items"]] == ["line 2", "line 3", "line 4"]
    assert rest["cursor"] is None


def test_huge_results_are_truncated_visibly(client):
    run = submit(client, task="tests.big", kwargs={"size": 200_000})
    drain()
    result = get(client, run["id"])["result"]
    assert result["truncated"] is True
    assert result["size"] > 200_000
    assert len(result["preview"]) == 1000


def test_unknown_task_in_a_stored_run_fails_clearly(client):
    from chalicelib.storage import RunModel

    run = submit(client, task="echo")
    stored = RunModel.get("default", run["id"])
    stored.update(actions=[RunModel.steps.set([{"task": "gone", "args": [], "kwargs": {}}])])
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["exc"]) == ("FAILED", "TaskNotRegistered")


def test_trigger_queues_a_run_of_the_job_and_counts_it(client):
    job = create(client, task="tests.count", kwargs={"key": "trigger"})
    response = client.post(f"/v1/jobs/{job['id']}/trigger")
    assert response.status_code == 202
    assert response.json_body["job_id"] == job["id"]
    drain()
    assert calls("trigger") == 1
    after = client.get(f"/v1/jobs/{job['id']}").json_body
    assert after["total_run_count"] == 1
    assert after["last_run_id"] == response.json_body["id"]
    assert client.post("/v1/jobs/01m00000000000000000000000/trigger").status_code == 404


def test_lists_are_newest_first_and_filter(client):
    job = create(client)
    ids = [submit(client, task="echo")["id"] for _ in range(3)]
    triggered = client.post(f"/v1/jobs/{job['id']}/trigger").json_body["id"]
    everything = client.get("/v1/tasks").json_body["items"]
    assert [r["id"] for r in everything] == [triggered, *reversed(ids)]
    page = client.get("/v1/tasks?limit=2").json_body
    rest = client.get(f"/v1/tasks?limit=2&cursor={page['cursor']}").json_body
    assert [r["id"] for r in page["items"] + rest["items"]] == [r["id"] for r in everything]
    assert [r["id"] for r in client.get(f"/v1/tasks?job_id={job['id']}").json_body["items"]] == [
        triggered
    ]
    assert [r["id"] for r in client.get(f"/v1/jobs/{job['id']}/runs").json_body["items"]] == [
        triggered
    ]
    client.delete(f"/v1/tasks/{ids[0]}")
    cancelled = client.get("/v1/tasks?status=CANCELLED").json_body["items"]
    assert [r["id"] for r in cancelled] == [ids[0]]
    assert client.get("/v1/tasks?status=DONE").status_code == 400


def test_partial_batch_failure_reports_only_the_bad_message(client):
    good = submit(client, task="echo")
    event = {
        "Records": [
            {"messageId": "m1", "body": json.dumps({"run_id": good["id"], "tenant": "default"})},
            {"messageId": "m2", "body": "not json"},
            {"messageId": "m3", "body": json.dumps({"kind": "fire"})},
        ]
    }
    answer = services.worker().handle_sqs(event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert get(client, good["id"])["status"] == "SUCCEEDED"


def test_sqs_redelivery_of_a_finished_run_is_ignored(client):
    run = submit(client, task="tests.count", kwargs={"key": "once"})
    drain()
    assert services.worker().execute_run("default", run["id"], None) == "SUCCEEDED"
    assert calls("once") == 1


def test_queue_send_failure_leaves_no_queued_run(client):
    sqs = services.queues().client

    def refuse(**_):
        raise boto3.client("sqs").exceptions.ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "SendMessage"
        )

    sqs.meta.events.register("before-call.sqs.SendMessage", refuse)
    response = send(client, "POST", "/v1/tasks", {"task": "echo"})
    assert response.status_code == 503
    sqs.meta.events.unregister("before-call.sqs.SendMessage", refuse)
    assert client.get("/v1/tasks").json_body["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("job_id=" + "x" * 3000, "job_id"), ("limit=0", "limit"), ("status=done", "status")],
)
def test_bad_run_list_parameters_are_400s(client, query, field):
    response = client.get(f"/v1/tasks?{query}")
    assert response.status_code == 400
    assert response.json_body["error"]["details"]["field"] == field


def test_forged_cursors_with_impossible_keys_are_400s(client):
    import base64

    for key in ({"tenant": "default", "run_id": "y" * 3000}, {"tenant": "default", "run_id": "z"}):
        forged = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
        assert client.get(f"/v1/tasks?cursor={forged}").status_code == 400
        assert client.get(f"/v1/jobs?cursor={forged}").status_code == 400


# -- a run's record: its final outcome on top, each attempt below (issue 13, item 4) ----------


def attempt_view(run: dict) -> list[tuple]:
    """(number, outcome, error) of each attempt, each with both its times."""
    for attempt in run["attempts"]:
        assert attempt["started_at"] and attempt["ended_at"], attempt
    return [(a["number"], a["outcome"], a["error"]) for a in run["attempts"]]


def test_a_sleep_stopped_by_a_cancel_is_a_cancelled_step_without_a_result(client):
    run = submit(client, task="sleep", kwargs={"seconds": 10})
    worker = threading.Thread(target=drain)
    worker.start()
    deadline = time.monotonic() + 5
    while get(client, run["id"])["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.delete(f"/v1/tasks/{run['id']}").status_code == 200
    worker.join(timeout=10)
    done = get(client, run["id"])
    assert done["status"] == "CANCELLED"
    (step,) = done["steps"]
    assert (step["status"], step["result"]) == ("CANCELLED", None)
    assert step["ended_at"] is not None
    assert done["result"] is None
    assert attempt_view(done) == [(1, "CANCELLED", None)]


def test_a_run_that_succeeded_after_retries_shows_only_its_outcome_on_top(client):
    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "record", "failures": 2},
        retry={"max_attempts": 3, "initial_seconds": 0},
    )
    drain()  # the retries back off through SQS
    done = get(client, run["id"])
    assert (done["status"], done["attempt"], done["result"]) == ("SUCCEEDED", 3, 3)
    assert calls("record") == 3
    assert {
        k: done[k] for k in ("exc", "error", "traceback", "retry_at", "reason")
    } == dict.fromkeys(("exc", "error", "traceback", "retry_at", "reason"))
    assert attempt_view(done) == [
        (1, "FAILED", "RuntimeError: attempt 1 fails"),
        (2, "FAILED", "RuntimeError: attempt 2 fails"),
        (3, "SUCCEEDED", None),
    ]


def test_a_run_waiting_for_its_next_attempt_shows_the_failure_it_waits_after(client):
    run = submit(
        client,
        task="fail",
        kwargs={"message": "once"},
        retry={"max_attempts": 2, "initial_seconds": 30},
    )
    drain()
    waiting = get(client, run["id"])
    assert (waiting["status"], waiting["attempt"], waiting["exc"]) == ("QUEUED", 2, "TaskFailed")
    assert waiting["retry_at"] is not None
    assert attempt_view(waiting) == [(1, "FAILED", "TaskFailed: once")]


def test_an_exhausted_run_lists_every_attempt_and_shows_the_last_on_top(client):
    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "exhausted-record", "failures": 9},
        retry={"max_attempts": 2, "initial_seconds": 0},
    )
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["error"], done["retry_at"]) == ("FAILED", "attempt 2 fails", None)
    assert "attempt 2 fails" in done["traceback"]
    assert attempt_view(done) == [
        (1, "FAILED", "RuntimeError: attempt 1 fails"),
        (2, "FAILED", "RuntimeError: attempt 2 fails"),
    ]


def test_a_manual_retry_adds_an_attempt_and_clears_the_failure_when_it_succeeds(client):
    run = submit(client, task="tests.flaky", kwargs={"key": "manual-record", "failures": 1})
    drain()
    assert client.post(f"/v1/tasks/{run['id']}/retry").status_code == 202
    queued = get(client, run["id"])
    assert (queued["status"], queued["attempt"]) == ("QUEUED", 2)
    assert attempt_view(queued) == [(1, "FAILED", "RuntimeError: attempt 1 fails")]
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["exc"], done["error"], done["traceback"]) == (
        "SUCCEEDED",
        None,
        None,
        None,
    )
    assert attempt_view(done) == [
        (1, "FAILED", "RuntimeError: attempt 1 fails"),
        (2, "SUCCEEDED", None),
    ]


def expire_a_claim(run_id: str) -> None:
    """Claim a QUEUED run as a worker would, then let that worker die (its lease expires)."""
    from chalicelib.execution import lease_text
    from chalicelib.storage import RunModel

    stored = RunModel.get("default", run_id)
    assert services.executor().claim(stored)
    past = lease_text(datetime.now(UTC) - timedelta(minutes=1))
    stored.update(actions=[RunModel.lease_expires_at.set(past)])


def test_a_lease_expired_attempt_is_listed_and_the_next_one_runs(client):
    from chalicelib import maintenance

    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "reaped", "failures": 2},
        retry={"max_attempts": 3, "initial_seconds": 0},
    )
    expire_a_claim(run["id"])
    assert maintenance.reap()["outcomes"] == {"QUEUED": 1}
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["attempt"], done["exc"], done["error"]) == (
        "SUCCEEDED",
        3,
        None,
        None,
    )
    (first, second, third) = attempt_view(done)
    assert first[:2] == (1, "TIMED_OUT")
    assert first[2].startswith("LeaseExpired: lease expired")
    assert second == (2, "FAILED", "RuntimeError: attempt 2 fails")
    assert third == (3, "SUCCEEDED", None)


def test_a_timed_out_run_ends_without_an_earlier_attempts_exception(client):
    from chalicelib import maintenance

    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "timed-out", "failures": 1},
        retry={"max_attempts": 2, "initial_seconds": 30},
    )
    drain()  # attempt 1 fails; attempt 2 waits 30 s, and is claimed by a worker that dies
    expire_a_claim(run["id"])
    assert maintenance.reap()["outcomes"] == {"TIMED_OUT": 1}
    done = get(client, run["id"])
    assert (done["status"], done["exc"], done["error"], done["traceback"], done["retry_at"]) == (
        "TIMED_OUT",
        None,
        None,
        None,
        None,
    )
    assert done["reason"].startswith("lease expired")
    assert [a["outcome"] for a in done["attempts"]] == ["FAILED", "TIMED_OUT"]


def test_each_face_shows_the_attempts_where_its_shape_has_room(client):
    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "faces", "failures": 9},
        retry={"max_attempts": 2, "initial_seconds": 0},
    )
    drain()
    # Vitam: the final error, with the earlier attempts' errors in its `errors` list.
    vitam = client.get(f"/vitam/v1/tasks/{run['id']}", headers={"X-Tenant-Id": "default"}).json_body
    assert vitam["error"]["message"] == "attempt 2 fails"
    assert [(e["code"], e["message"], e["state"]) for e in vitam["error"]["errors"]] == [
        ("RuntimeError", "attempt 1 fails", "FAILED")
    ]
    # Alteryx: one message per earlier attempt, after that attempt's own lines (toolId -1);
    # the final attempt's outcome is the job's status and disposition, its error the last line.
    messages = client.get(f"/webapi/v3/jobs/{run['id']}/messages").json_body
    assert [(m["status"], m["text"], m["toolId"]) for m in messages] == [
        (3, "Attempt 1: FAILED: RuntimeError: attempt 1 fails", -1),
        (3, "RuntimeError: attempt 2 fails", -1),
    ]
    details = client.get(f"/webapi/v3/jobs/{run['id']}").json_body
    assert details["messages"] == messages
    # udata: Celery's task shape has no room; it shows the final outcome only.
    udata = client.get(f"/api/1/workers/tasks/{run['id']}").json_body
    assert set(udata) == {"id", "status", "result", "exc", "traceback"}
    assert (udata["status"], udata["exc"]) == ("FAILURE", "builtins.RuntimeError")


def test_alteryx_attempt_messages_follow_each_attempts_own_log(client):
    run = submit(
        client,
        steps=[
            {"task": "tests.chatty", "kwargs": {"lines": 1}},
            {"task": "tests.flaky", "kwargs": {"key": "chatty-flaky", "failures": 1}},
        ],
        retry={"max_attempts": 2, "initial_seconds": 0},
    )
    drain()
    texts = [m["text"] for m in client.get(f"/webapi/v3/jobs/{run['id']}/messages").json_body]
    assert texts == [
        "line 0",
        "Attempt 1: FAILED: RuntimeError: attempt 1 fails",
        "line 0",
    ]
    once = submit(client, task="tests.chatty", kwargs={"lines": 1})
    drain()  # a single attempt: its log only, as before
    messages = client.get(f"/webapi/v3/jobs/{once['id']}/messages").json_body
    assert messages == [{"status": 1, "text": "line 0", "toolId": 0}]


def test_cancelling_a_run_waiting_for_its_retry_leaves_only_the_cancel_on_top(client):
    run = submit(
        client,
        task="tests.flaky",
        kwargs={"key": "cancel-waiting", "failures": 5},
        retry={"max_attempts": 3, "initial_seconds": 600},
    )
    drain()
    waiting = get(client, run["id"])
    assert (waiting["status"], waiting["exc"]) == ("QUEUED", "RuntimeError")
    assert send(client, "DELETE", f"/v1/tasks/{run['id']}").status_code == 200
    done = get(client, run["id"])
    assert done["status"] == "CANCELLED"
    assert {k: done[k] for k in ("exc", "error", "traceback", "retry_at")} == dict.fromkeys(
        ("exc", "error", "traceback", "retry_at")
    )
    assert attempt_view(done) == [(1, "FAILED", "RuntimeError: attempt 1 fails")]
