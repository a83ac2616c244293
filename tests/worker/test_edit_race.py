"""A job edit must not lose a fire counted between its read and its write.

PUT, PATCH, pause and resume read the job, build the new item and write it whole; a fire counts
itself with an UpdateItem that leaves ``version`` alone. Before the fix, a fire landing in that
gap was overwritten: its ``fire_count`` and ``total_run_count`` went back, so a job with
``repeats`` could fire once more than allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app import worker
from chalicelib import services
from chalicelib.jobs import JobService
from chalicelib.storage import JobModel
from tests.api.helpers import create, send

FIRE = {"tenant": "default", "scheduled_time": "2030-01-01T01:00:00Z"}
LATER = {"tenant": "default", "scheduled_time": "2030-01-01T02:00:00Z"}


def _before_edit_write(monkeypatch: pytest.MonkeyPatch, race: Callable[[], Any]) -> list[Any]:
    """Make the next job edit's write call ``race`` just before it writes (after its read);
    the list gets what ``race`` answered."""
    original = JobService._write
    answers: list[Any] = []

    def racing(self: JobService, old: Any, new: Any, *args: Any, **kwargs: Any) -> None:
        if old is not None and new is not None and not answers:
            answers.append(race())
        original(self, old, new, *args, **kwargs)

    monkeypatch.setattr(JobService, "_write", racing)
    return answers


def _raced_job(client: Any, **fields: Any) -> dict[str, Any]:
    """An hourly job of one repeat whose runs count themselves."""
    return create(
        client,
        name="raced",
        task="tests.count",
        kwargs={"key": "race"},
        schedule="@hourly",
        repeats=1,
        **fields,
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"description": "edited"}),
        (
            "PUT",
            "",
            {
                "name": "raced",
                "task": "tests.count",
                "kwargs": {"key": "race"},
                "schedule": "@hourly",
                "repeats": 1,
                "description": "edited",
            },
        ),
        ("POST", "/pause", None),
    ],
)
def test_an_edit_keeps_a_fire_counted_between_its_read_and_write(
    client: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str, body: Any
) -> None:
    job = _raced_job(client)
    answers = _before_edit_write(monkeypatch, lambda: worker(FIRE | {"job_id": job["id"]}, None))
    response = send(client, method, f"/v1/jobs/{job['id']}{path}", body)
    assert response.status_code == 200, response.json_body
    assert answers and answers[0]["status"] == "SUCCEEDED", answers
    stored = JobModel.get("default", job["id"], consistent_read=True)
    assert (stored.fire_count, stored.total_run_count) == (1, 1)
    assert stored.last_run_id is not None
    got = client.get(f"/v1/jobs/{job['id']}").json_body
    assert got["total_run_count"] == 1
    if method != "POST":  # still enabled: the repeat is used up, no second fire runs
        later = worker(LATER | {"job_id": job["id"]}, None)
        assert later["status"] == "SKIPPED", later
        stored = JobModel.get("default", job["id"], consistent_read=True)
        assert stored.fire_count == 1


def test_a_resume_keeps_a_fire_counted_between_its_read_and_write(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger (a run counted on the job, not a fire) racing a resume is kept too."""
    job = _raced_job(client, enabled=False)
    triggered = _before_edit_write(
        monkeypatch, lambda: services.run_service().trigger("default", job["id"]).run_id
    )
    response = send(client, "POST", f"/v1/jobs/{job['id']}/resume")
    assert response.status_code == 200, response.json_body
    assert len(triggered) == 1
    assert client.get(f"/v1/jobs/{job['id']}").json_body["total_run_count"] == 1
