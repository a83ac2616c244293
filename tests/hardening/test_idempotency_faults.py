"""Every AWS call of each create fails in turn, in each of five ways, under an Idempotency-Key;
then the client retries with the same key, and upkeep runs. Whatever the first answer was (a
503, a 409, or a success whose reply the client might have lost), the retry must answer the
success, name what the first attempt made if it answered one, and leave exactly one job, run
or key: the ambiguous failure issue 19 §3 closes.

The table this prints is the one in docs/api.md ("Idempotent requests").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib import idempotency, services
from chalicelib.ids import new_id
from chalicelib.storage import ApiKeyModel, JobModel, RunModel
from tests.hardening.faults import KINDS, body, inconsistencies, injecting, recover
from tests.hardening.test_faults import fresh_world
from tests.testtasks import calls

pytestmark = pytest.mark.slow

#: ``make test`` fails each call in three ways, one per outcome a client can meet (refused and
#: not done, done with its reply lost, a conditional write that lost its race); ``make fuzz``
#: (BEATLESS_FUZZ_EXAMPLES above 5) in all five, adding throttling and a timeout, which the
#: code handles as it does a refusal.
FULL = int(os.environ.get("BEATLESS_FUZZ_EXAMPLES", "5")) > 5
WAYS = KINDS if FULL else ("server", "lost-reply", "race")


@dataclass(frozen=True)
class Create:
    """``request`` gives (method, path, body) for a context made by ``setup`` and a unique
    ``mark``; ``made`` counts what exists for that mark once upkeep has run (must be 1)."""

    name: str
    request: Callable[[dict[str, Any], str], tuple[str, str, Any]]
    success: int
    made: Callable[[dict[str, Any], str], int]
    setup: Callable[[Any], dict[str, Any]] = lambda client: {}
    headers: tuple[tuple[str, str], ...] = ()


def _jobs_named(ctx: dict[str, Any], mark: str) -> int:
    return sum(1 for job in JobModel.scan() if job.name == f"job-{mark}")


def _ran(ctx: dict[str, Any], mark: str) -> int:
    """Runs made for the mark, which must also have run its task exactly once."""
    runs = [r for r in RunModel.scan() if (r.steps or [{}])[0].get("kwargs") == {"key": mark}]
    return len(runs) if calls(mark) == 1 else -calls(mark)


def _count_job(client: Any) -> dict[str, Any]:
    """A job whose trigger runs ``tests.count`` under a key the scenario sets per attempt."""
    response = client.post(
        "/v1/jobs",
        body=json.dumps(
            {"name": f"job-{new_id()}", "task": "tests.count", "schedule": "0 0 1 1 *"}
        ),
    )
    assert response.status_code == 201, response.body
    return {"job": body(response)}


def _triggered(ctx: dict[str, Any], mark: str) -> int:
    """The job's runs, if its task ran once and the run was never counted twice on the job (a
    count the first attempt failed to make stays missed, as without a key: logged)."""
    runs = [r for r in RunModel.scan() if r.job_id == ctx["job"]["id"]]
    counted = int(JobModel.get("default", ctx["job"]["id"]).total_run_count or 0)
    return len(runs) if calls("count") == ctx["before"] + 1 and counted <= 1 else -1


def _keys_owned(ctx: dict[str, Any], mark: str) -> int:
    return sum(1 for key in ApiKeyModel.scan() if key.owner == mark)


CREATES = [
    Create(
        "native: create job",
        lambda x, m: (
            "POST",
            "/v1/jobs",
            {"name": f"job-{m}", "task": "echo", "schedule": "*/5 * * * *"},
        ),
        201,
        _jobs_named,
    ),
    Create(
        "native: create job (second precision)",
        lambda x, m: (
            "POST",
            "/v1/jobs",
            {"name": f"job-{m}", "task": "echo", "schedule": "*/20 * * * * *"},
        ),
        201,
        _jobs_named,
    ),
    Create(
        "native: submit task",
        lambda x, m: ("POST", "/v1/tasks", {"task": "tests.count", "kwargs": {"key": m}}),
        202,
        _ran,
    ),
    Create(
        "native: trigger job",
        lambda x, m: ("POST", f"/v1/jobs/{x['job']['id']}/trigger", None),
        202,
        _triggered,
        _count_job,
    ),
    Create(
        "native: create key",
        lambda x, m: ("POST", "/v1/keys", {"role": "user", "owner": m}),
        201,
        _keys_owned,
    ),
    Create(
        "udata: create job",
        lambda x, m: (
            "POST",
            "/api/1/workers/jobs",
            {"name": f"job-{m}", "task": "echo", "crontab": {"minute": "*/5"}, "enabled": True},
        ),
        201,
        _jobs_named,
    ),
    Create(
        "dapr: schedule job",
        lambda x, m: ("POST", f"/v1.0/jobs/job-{m}", {"schedule": "@every 5m"}),
        204,
        _jobs_named,
    ),
    Create(
        "alteryx: run workflow",
        lambda x, m: ("POST", f"/webapi/v3/workflows/{x['job']['id']}/jobs", {"priority": "High"}),
        200,
        _triggered,
        _count_job,
    ),
    Create(
        "vitam: submit task",
        lambda x, m: (
            "POST",
            "/vitam/v1/tasks",
            {"Step": "s", "actions": [{"action": "tests.count", "arguments": {"key": m}}]},
        ),
        201,
        _ran,
        headers=(("X-Tenant-Id", "default"),),
    ),
]


def _send(client: Any, create: Create, ctx: dict[str, Any], mark: str, key: str) -> Any:
    method, path, payload = create.request(ctx, mark)
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, **dict(create.headers)}
    raw = json.dumps(payload).encode() if payload is not None else b""
    return client.request(method, path, headers=headers, body=raw)


def _retry(client: Any, create: Create, ctx: dict[str, Any], mark: str, key: str) -> Any:
    """The client's retry; a 409 (the first attempt still holds its lease) is retried once the
    lease has run out, as Retry-After says."""
    answer = _send(client, create, ctx, mark, key)
    if answer.status_code == 409:
        later = idempotency._now() + idempotency.LEASE_SECONDS + 1
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(idempotency, "_now", lambda: later)
            answer = _send(client, create, ctx, mark, key)
    return answer


def _attempt(client: Any, injector: Any, create: Create, index: int | None, kind: str) -> Any:
    """One create failed at call ``index`` (None: no fault), retried, upkeep run; returns the
    calls of the first attempt, what was injected and the problems found."""
    ctx = create.setup(client)
    ctx["before"] = calls("count")
    mark, key = new_id(), f"idem-{new_id()}"
    injector.arm(index, kind)
    first = _send(client, create, ctx, mark, key)
    made_calls, injected = list(injector.calls), list(injector.injected)
    injector.disarm()
    problems = []
    if first.status_code not in (create.success, 409, 503):
        problems.append(f"first answered {first.status_code}: {first.body[:200]!r}")
    if first.status_code == 503 and not first.headers.get("Retry-After"):
        problems.append("503 without Retry-After")
    retry = _retry(client, create, ctx, mark, key)
    if retry.status_code != create.success:
        problems.append(f"the retry answered {retry.status_code}: {retry.body[:200]!r}")
    elif first.status_code == create.success and _id(first) != _id(retry):
        problems.append(f"the retry answered {_id(retry)}, the first {_id(first)}")
    recover()
    made = create.made(ctx, mark)
    if made != 1:
        problems.append(f"made {made} (runs: negative = times its task ran, if not once)")
    return made_calls, injected, problems + inconsistencies()


def _id(answer: Any) -> Any:
    found = body(answer) or {}
    return found.get("id") or found.get("itemId")


def test_a_retry_with_the_same_key_after_any_fault_makes_exactly_one(client, capsys):
    lines = ["| create | AWS calls | faults injected | inconsistencies |", "|---|---|---|---|"]
    bad: list[str] = []
    total = 0
    with injecting() as injector:
        for create in CREATES:
            fresh_world()
            clean, _, problems = _attempt(client, injector, create, None, "")
            bad += [f"{create.name} without faults: {p}" for p in problems]
            faults = 0
            for index in range(len(clean)):
                for kind in WAYS:
                    _, injected, problems = _attempt(client, injector, create, index, kind)
                    if not injected:
                        continue
                    faults += 1
                    where = f"{injected[0][0]}.{injected[0][1]} #{index} {kind}"
                    bad += [f"{create.name}, {where}: {p}" for p in problems]
            total += faults
            ops = ", ".join(op for _, op in clean)
            mine = sum(1 for p in bad if p.startswith(create.name))
            lines.append(f"| {create.name} | {len(clean)} ({ops}) | {faults} | {mine} |")
    lines.append(f"| **all** | | **{total}** | **{len(bad)}** |")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not bad, "\n".join(bad)
    services.reset()
