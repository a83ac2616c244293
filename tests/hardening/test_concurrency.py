"""Races: threads creating, updating, pausing and deleting the same jobs; cancel against
completion; duplicate fires; stale versions.

Each AWS call is made atomic (a lock around botocore's ``_make_api_call``), as it is in AWS and
not in moto's in-process backends; everything between calls interleaves freely, which is where
beatless's races live (read, then write; write the item, then sync the schedules).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pynamodb.exceptions import DoesNotExist

from chalicelib import services
from chalicelib.auth import Principal
from chalicelib.errors import BeatlessError, Conflict, NotFound
from chalicelib.execution import CANCELLED, SUCCEEDED
from chalicelib.ids import new_id
from chalicelib.storage import JobModel, JobNameModel, RunModel
from tests.hardening.faults import fire, inconsistencies
from tests.testtasks import calls

pytestmark = pytest.mark.slow
THREADS = 8
ADMIN = Principal("default", "admin", "k", "concurrency")


def _in_threads(work: list[Callable[[], Any]]) -> list[Any]:
    """Run every callable at once (a barrier lines them up); exceptions are returned."""
    barrier = threading.Barrier(len(work))

    def run(job: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return job()
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(work)) as pool:
        return list(pool.map(run, work))


def _by_name(name: str) -> JobModel:
    try:
        job_id = JobNameModel.get("default", name, consistent_read=True).job_id
    except DoesNotExist:
        raise NotFound(name) from None
    return services.job_service().get("default", job_id)


def _create(name: str, **fields: Any) -> JobModel:
    values = {"name": name, "task": "echo", "schedule": "*/5 * * * *"} | fields
    return services.job_service().create("default", values, created_by="test")


def test_stale_version_puts_one_wins_and_no_update_is_lost(atomic_aws):
    job = _create("stale")
    service = services.job_service()
    work = [
        (lambda i=i: service.patch("default", job.job_id, {"description": f"writer {i}"}, 1))
        for i in range(THREADS)
    ]
    results = _in_threads(work)
    winners = [r for r in results if isinstance(r, JobModel)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r is not winners[0])
    stored = JobModel.get("default", job.job_id)
    assert stored.description == winners[0].description
    assert stored.version == 2
    assert inconsistencies() == []


def test_same_name_created_at_once_exists_once(atomic_aws):
    results = _in_threads([lambda: _create("twin") for _ in range(THREADS)])
    assert sum(isinstance(r, JobModel) for r in results) == 1, results
    assert all(isinstance(r, (JobModel, Conflict)) for r in results)
    assert inconsistencies() == []


def test_mixed_writes_on_the_same_jobs_leave_items_and_schedules_agreeing(atomic_aws):
    """No reconciler here: the schedules must agree with the items by themselves."""
    names = [f"shared-{i}" for i in range(3)]
    for name in names:
        _create(name)
    service = services.job_service()
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()

    def one_step(seed: int) -> None:
        local = random.Random(seed)
        for _ in range(12):
            name = local.choice(names)
            try:
                job = _by_name(name)
                action = local.choice(["pause", "resume", "reschedule", "delete", "create"])
                if action == "pause":
                    service.set_enabled("default", job.job_id, False, actor=ADMIN)
                elif action == "resume":
                    service.set_enabled("default", job.job_id, True, actor=ADMIN)
                elif action == "reschedule":
                    schedule = local.choice(["*/5 * * * *", "0 * * * *", "*/30 * * * * *"])
                    service.patch("default", job.job_id, {"schedule": schedule}, None, ADMIN)
                elif action == "delete":
                    service.delete("default", job.job_id, actor=ADMIN)
                else:
                    _create(f"{name}-{new_id()}")
                outcomes[action] += 1
            except (Conflict, NotFound):
                outcomes["refused"] += 1
            except BeatlessError as error:
                outcomes[type(error).__name__] += 1
            if local.random() < 0.3:
                with contextlib.suppress(Conflict):
                    _create(name)

    seeds = [rng.randrange(10**9) for _ in range(THREADS)]
    results = _in_threads([lambda s=seed: one_step(s) for seed in seeds])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(outcomes.values()) == THREADS * 12
    assert inconsistencies() == [], outcomes


def test_cancel_against_completion_never_ends_succeeded_once_accepted(atomic_aws):
    runs = services.run_service()
    submitted = [
        runs.submit("default", [{"task": "tests.count", "args": [], "kwargs": {"key": new_id()}}])
        for _ in range(24)
    ]

    def execute(run_id: str) -> Any:
        return services.worker().execute_run("default", run_id, None)

    def cancel(run_id: str) -> Any:
        return runs.cancel("default", run_id, actor=ADMIN).status

    work: list[Callable[[], Any]] = []
    for run in submitted:
        work += [lambda r=run.run_id: execute(r), lambda r=run.run_id: cancel(r)]
    results = _in_threads(work)
    for index, run in enumerate(submitted):
        cancel_answer = results[2 * index + 1]
        final = RunModel.get("default", run.run_id).status
        if isinstance(cancel_answer, Conflict):  # it had ended already: the run's own outcome
            assert final == SUCCEEDED
        else:
            assert not isinstance(cancel_answer, Exception), cancel_answer
            assert final == CANCELLED, (cancel_answer, final)


def test_duplicate_fires_of_many_jobs_each_run_once(atomic_aws):
    jobs = [
        _create(f"fired-{i}", task="tests.count", kwargs={"key": f"fire-{i}"}) for i in range(4)
    ]
    event = {"tenant": "default", "scheduled_time": "2026-11-22T12:00:00Z"}
    work = [
        (lambda j=job: fire(event | {"job_id": j.job_id, "schedule": f"job-{j.job_id}"}))
        for job in jobs
        for _ in range(5)
    ]
    results = _in_threads(work)
    assert not [r for r in results if any(isinstance(o, Exception) for o in r)]
    for i, job in enumerate(jobs):
        assert calls(f"fire-{i}") == 1
        assert len([r for r in RunModel.scan() if r.job_id == job.job_id]) == 1
    assert inconsistencies() == []
