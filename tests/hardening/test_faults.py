"""Every AWS call of each operation fails in turn, in each of five ways; then the reconciler and
the reaper run, and nothing may be inconsistent: no job without its schedule, no schedule
without its job, no run left QUEUED or RUNNING, no fire run twice or lost, and the API's answer
true (a 2xx means it happened once; a 503 with Retry-After means it did not).

The table this prints is the one in docs/operations.md ("Fault injection").
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from moto.core.base_backend import BackendDict

from chalicelib import maintenance, resources, services
from chalicelib.execution import FINAL, SUCCEEDED, utcnow
from chalicelib.ids import new_id
from chalicelib.scheduler import schedule_name
from chalicelib.settings import get_settings
from chalicelib.storage import JobModel, RunModel
from tests.conftest import ADMIN_KEY
from tests.hardening.faults import KINDS, body, deliver, fire, inconsistencies, injecting, recover
from tests.testtasks import calls

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scenario:
    """``setup`` prepares what the operation needs and returns its context; ``act`` is the
    operation (an HTTP call or a worker entry point); ``check`` adds the scenario's own
    invariants once upkeep has run, given the context and the answer."""

    name: str
    act: Callable[[Any, dict[str, Any]], Any]
    success: int | None  # the HTTP status of success; None for a worker entry point
    setup: Callable[[Any], dict[str, Any]] = lambda client: {}
    check: Callable[[dict[str, Any], Any], list[str]] = lambda ctx, answer: []


def _job(client: Any, **fields: Any) -> dict[str, Any]:
    key = new_id()
    values = {"name": f"job-{key}", "task": "tests.count", "kwargs": {"key": key}}
    response = client.post("/v1/jobs", body=_json(values | fields))
    assert response.status_code == 201, response.body
    return {"job": body(response), "key": key}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _ran_once_if_answered(success: int) -> Callable[[dict[str, Any], Any], list[str]]:
    """A 2xx means the task ran exactly once; an error means it did not run at all."""

    def check(ctx: dict[str, Any], answer: Any) -> list[str]:
        ran = calls(ctx["key"])
        if answer.status_code == success and ran != 1:
            return [f"answered {success} but the task ran {ran} times"]
        if answer.status_code != success and ran != 0:
            return [f"answered {answer.status_code} but the task ran {ran} times"]
        return []

    return check


def _submit(client: Any, **fields: Any) -> dict[str, Any]:
    key = new_id()
    values = {"task": "tests.count", "kwargs": {"key": key}} | fields
    response = client.post("/v1/tasks", body=_json(values))
    assert response.status_code == 202, response.body
    return {"run": body(response), "key": key}


def _failed_run(client: Any) -> dict[str, Any]:
    ctx = _submit(client, task="fail", kwargs={})
    deliver()
    return ctx


def _ends(ctx: dict[str, Any], answer: Any) -> list[str]:
    run = RunModel.get("default", ctx["run"]["id"])
    return [] if run.status in FINAL else [f"run {run.run_id} is {run.status}"]


def _fire_event(client: Any) -> dict[str, Any]:
    ctx = _job(client, schedule="* * * * *")
    minute = utcnow().replace(second=0, microsecond=0)
    ctx["event"] = {
        "job_id": ctx["job"]["id"],
        "tenant": "default",
        "schedule": schedule_name(ctx["job"]["id"], ""),
        "scheduled_time": minute.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ctx


def _fire_event_with_spec(client: Any) -> dict[str, Any]:
    """The fire as EventBridge sends it since issue 17: its input carries the job's spec, so the
    fire is decided in two writes (the job's conditional count, the run's put), no read."""
    ctx = _fire_event(client)
    job = JobModel.get("default", ctx["job"]["id"])
    assert job.next_run_at is not None
    ctx["event"] = ctx["event"] | {
        "spec": job.spec,
        "scheduled_time": job.next_run_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ctx


def _fired_once(ctx: dict[str, Any], answer: Any) -> list[str]:
    runs = [r for r in RunModel.scan() if r.job_id == ctx["job"]["id"]]
    problems = [] if len(runs) == 1 else [f"the fire made {len(runs)} runs"]
    counted = int(JobModel.get("default", ctx["job"]["id"]).fire_count or 0)
    if counted != 1:
        problems.append(f"the fire was counted {counted} times")
    ran = calls(ctx["key"])
    if ran > 1:
        problems.append(f"the fire's task ran {ran} times")
    if runs and runs[0].status == SUCCEEDED and ran != 1:
        problems.append("SUCCEEDED without running")
    return problems


def _plan_tick(client: Any) -> dict[str, Any]:
    """A second-precision job (every 20 s) and the heartbeat fire that hands the next minute's
    fires to SQS."""
    ctx = _fire_event(client)
    response = client.patch(
        f"/v1/jobs/{ctx['job']['id']}", body=_json({"schedule": "*/20 * * * * *"})
    )
    assert response.status_code == 200, response.body
    ctx["minute"] = utcnow().replace(second=0, microsecond=0)
    return ctx


def _handed_off(ctx: dict[str, Any], answer: Any) -> list[str]:
    """Every fire of [T + 60 s, T + 120 s) is waiting in SQS (delayed) or has run, none lost;
    a message sent twice by a redelivered heartbeat is harmless (one run id per fire)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    from chalicelib.settings import get_settings

    settings = get_settings()
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][settings.region].queues[settings.queue_name("default")]
    waiting = {
        body["scheduled_time"]
        for body in (json.loads(m.body) for m in queue._messages)
        if body.get("kind") == "fire" and body.get("job_id") == ctx["job"]["id"]
    }
    waiting |= {  # or already delivered and run, if its second came during the test
        f"{r.scheduled_time:%Y-%m-%dT%H:%M:%SZ}"
        for r in RunModel.scan()
        if r.job_id == ctx["job"]["id"] and r.scheduled_time is not None
    }
    start = ctx["minute"] + timedelta(seconds=60)
    wanted = {(start + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in (0, 20, 40)}
    missing = sorted(wanted - waiting)
    return [f"fires lost from the hand-off: {missing}"] if missing else []


def _flaky(client: Any) -> dict[str, Any]:
    return _submit(
        client,
        task="tests.flaky",
        kwargs={"key": new_id(), "failures": 1},
        retry={"max_attempts": 3, "initial_seconds": 0},
    )


def _running(client: Any) -> dict[str, Any]:
    ctx = _submit(client)
    run = RunModel.get("default", ctx["run"]["id"])
    assert services.executor().claim(run)
    return ctx


def _cancelled_never_ran(ctx: dict[str, Any], answer: Any) -> list[str]:
    run = RunModel.get("default", ctx["run"]["id"])
    ran = calls(ctx["key"])
    if answer.status_code == 200 and (run.status != "CANCELLED" or ran):
        return [f"cancel answered 200 but the run is {run.status} and ran {ran} times"]
    return [] if ran <= 1 else [f"ran {ran} times"]


def _new_key(client: Any) -> dict[str, Any]:
    return {"secret": services.keys().create("default", "user", "faults").key}


SCENARIOS = [
    Scenario(
        "create job (cron)",
        lambda c, x: c.post("/v1/jobs", body=_json(_job_values("*/5 * * * *"))),
        201,
    ),
    Scenario(
        "create job (second precision)",
        lambda c, x: c.post("/v1/jobs", body=_json(_job_values("*/20 * * * * *"))),
        201,
    ),
    Scenario(
        "create job (due in 1 h)",
        lambda c, x: c.post("/v1/jobs", body=_json(_job_values(None, due_time="1h"))),
        201,
    ),
    Scenario(
        "update schedule (PATCH)",
        lambda c, x: c.patch(
            f"/v1/jobs/{x['job']['id']}",
            body=_json({"schedule": "0 * * * *", "version": x["job"]["version"]}),
        ),
        200,
        lambda c: _job(c, schedule="*/5 * * * *"),
    ),
    Scenario(
        "pause job",
        lambda c, x: c.post(f"/v1/jobs/{x['job']['id']}/pause"),
        200,
        lambda c: _job(c, schedule="*/5 * * * *"),
    ),
    Scenario(
        "delete job",
        lambda c, x: c.delete(f"/v1/jobs/{x['job']['id']}"),
        204,
        lambda c: _job(c, schedule="*/5 * * * *"),
    ),
    Scenario(
        "trigger job",
        lambda c, x: c.post(f"/v1/jobs/{x['job']['id']}/trigger"),
        202,
        lambda c: _job(c, schedule="0 0 1 1 *"),
        _ran_once_if_answered(202),
    ),
    Scenario(
        "submit task",
        lambda c, x: c.post(
            "/v1/tasks", body=_json({"task": "tests.count", "kwargs": {"key": x["key"]}})
        ),
        202,
        lambda c: {"key": new_id()},
        _ran_once_if_answered(202),
    ),
    Scenario(
        "cancel queued task",
        lambda c, x: c.delete(f"/v1/tasks/{x['run']['id']}"),
        200,
        _submit,
        _cancelled_never_ran,
    ),
    Scenario(
        "retry failed task",
        lambda c, x: c.post(f"/v1/tasks/{x['run']['id']}/retry"),
        202,
        _failed_run,
        _ends,
    ),
    Scenario(
        "authenticate a key", lambda c, x: c.as_key(x["secret"]).get("/v1/jobs"), 200, _new_key
    ),
    Scenario("scheduled fire", lambda c, x: fire(x["event"]), None, _fire_event, _fired_once),
    Scenario(
        "scheduled fire (its input carries the spec)",
        lambda c, x: fire(x["event"]),
        None,
        _fire_event_with_spec,
        _fired_once,
    ),
    Scenario(
        "second-precision hand-off (heartbeat)",
        lambda c, x: fire(x["event"] | {"scheduled_time": f"{x['minute']:%Y-%m-%dT%H:%M:%SZ}"}),
        None,
        _plan_tick,
        _handed_off,
    ),
    Scenario("run a queued task (SQS)", lambda c, x: deliver(), None, _submit, _ends),
    Scenario("retry with backoff (requeue)", lambda c, x: deliver(), None, _flaky, _ends),
    Scenario(
        "reap an expired lease",
        lambda c, x: maintenance.reap(utcnow() + timedelta(hours=1)),
        None,
        _running,
        _ends,
    ),
]


def _job_values(schedule: str | None, **fields: Any) -> dict[str, Any]:
    values = {"name": f"job-{new_id()}", "task": "echo"} | fields
    return values | ({"schedule": schedule} if schedule else {})


def _answer_problems(scenario: Scenario, answer: Any) -> tuple[str, list[str]]:
    """The answer's label for the table, and what is wrong with it."""
    if scenario.success is None:
        return ("raised" if isinstance(answer, Exception) else "ok"), []
    status = answer.status_code
    problems = []
    if status not in (scenario.success, 409, 503):
        problems.append(f"answered {status}: {answer.body[:200]!r}")
    if status == 503 and not answer.headers.get("Retry-After"):
        problems.append("503 without Retry-After")
    return str(status), problems


def _act(scenario: Scenario, client: Any, ctx: dict[str, Any]) -> Any:
    """The operation's answer; a worker entry point that raises is an answer too (Lambda
    reports it and the platform retries: EventBridge, SQS, the next scheduled upkeep)."""
    if scenario.success is not None:
        return scenario.act(client, ctx)
    try:
        return scenario.act(client, ctx)
    except Exception as error:
        return error


def run_scenario(client: Any, injector: Any, scenario: Scenario) -> dict[str, Any]:
    """The operation once without faults (to learn its AWS calls), then once per call and kind."""
    ctx = scenario.setup(client)
    injector.arm(None)
    answer = scenario.act(client, ctx)
    clean = list(injector.calls)
    injector.disarm()
    recover()
    row: dict[str, Any] = {"calls": clean, "faults": 0, "answers": Counter(), "problems": []}
    row["problems"] += [f"without faults: {p}" for p in scenario.check(ctx, answer)]
    for index in range(len(clean)):
        for kind in KINDS:
            ctx = scenario.setup(client)
            injector.arm(index, kind)
            answer = _act(scenario, client, ctx)
            injected = list(injector.injected)
            injector.disarm()
            if not injected:
                continue  # a race on a read: not applicable
            row["faults"] += 1
            label, problems = _answer_problems(scenario, answer)
            row["answers"][label] += 1
            recover()
            problems += scenario.check(ctx, answer) + inconsistencies()
            where = f"{injected[0][0]}.{injected[0][1]} #{index} {kind}"
            row["problems"] += [f"{where}: {p}" for p in problems]
    return row


def fresh_world() -> None:
    """A new moto world per scenario: upkeep and the checks read every item, so what earlier
    scenarios left behind made each later check slower (quadratic), never stricter."""
    BackendDict.reset()
    services.reset()
    resources.provision(get_settings())
    services.keys().create("default", "admin", "test-admin", key=ADMIN_KEY)


def test_no_injected_fault_leaves_an_inconsistency(client, capsys):
    rows = {}
    with injecting() as injector:
        for scenario in SCENARIOS:
            fresh_world()
            rows[scenario.name] = run_scenario(client, injector, scenario)
    lines = [
        "| operation | AWS calls | faults injected | answers | inconsistencies |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        ops = ", ".join(f"{op}" for _, op in row["calls"])
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(row["answers"].items()))
        lines.append(
            f"| {name} | {len(row['calls'])} ({ops}) | {row['faults']} | {answers} "
            f"| {len(row['problems'])} |"
        )
    total = sum(r["faults"] for r in rows.values())
    bad = [p for r in rows.values() for p in r["problems"]]
    lines.append(f"| **all** | | **{total}** | | **{len(bad)}** |")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not bad, "\n".join(bad)


FACE_READS = {
    "native": "/v1/jobs",
    "udata": "/api/1/workers/jobs",
    "dapr": "/v1.0/jobs/some-job",
    "alteryx": "/webapi/v3/jobs/01m82aaaaaaaaaaaaaaaaaaaaa",
    "vitam": "/vitam/v1/tasks",
}


@pytest.mark.parametrize("face", sorted(FACE_READS))
@pytest.mark.parametrize("kind", ["throttle", "server", "timeout"])
def test_every_face_answers_an_aws_failure_503_with_retry_after_in_its_shape(client, face, kind):
    from chalicelib.api.models import ErrorOut
    from chalicelib.api.routing import ROUTES

    path = FACE_READS[face]
    doc = next(r for r in ROUTES if r.face == face and r.method == "GET")
    with injecting() as injector:
        injector.arm(0, kind)  # the first AWS call: the key lookup, or the read behind it
        answer = client.get(path, headers={"X-Tenant-Id": "default"})
    assert injector.injected, "no AWS call was made"
    assert answer.status_code == 503, answer.body
    assert int(answer.headers["Retry-After"]) > 0
    (doc.error_model or ErrorOut).model_validate(body(answer))
