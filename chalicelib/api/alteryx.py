"""The Alteryx Server v3 jobs face, mounted at ``/webapi/v3``.

An Alteryx "job" is a beatless run; a "workflow" is a beatless job (``appId`` = the job id).
Source: ``shared/seeds/alteryx-server-v3-jobs-api.txt``; differences in ``docs/alteryx.md``.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, RootModel

from chalicelib import services
from chalicelib.api.errors import http_status
from chalicelib.api.routing import QueryParam, parse_body, principal, query_bool, route
from chalicelib.errors import BadRequest, BeatlessError, Conflict, Forbidden
from chalicelib.execution import CANCELLED, FAILED, QUEUED, RUNNING, SKIPPED, SUCCEEDED, TIMED_OUT
from chalicelib.records import Run
from chalicelib.schedules.durations import format_instant
from chalicelib.tasks import QUEUES

bp = Blueprint(__name__)
PREFIX = "/webapi/v3"
FACE = "alteryx"
#: run status → (Alteryx status, disposition)
STATUS = {
    QUEUED: ("Queued", "None"),
    RUNNING: ("Running", "None"),
    SUCCEEDED: ("Completed", "Success"),
    FAILED: ("Completed", "Error"),
    TIMED_OUT: ("Completed", "Error"),
    CANCELLED: ("Completed", "Cancelled"),
    SKIPPED: ("Completed", "Cancelled"),
}
#: Alteryx priority → beatless queue, and back
QUEUE_OF = {
    "Critical": "high",
    "High": "high",
    "Medium": "default",
    "Default": "default",
    "Low": "low",
}
PRIORITY_OF = {"high": "High", "default": "Default", "low": "Low"}
LEVEL = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "ERROR": 3}


class AlteryxErrorOut(BaseModel):
    """What ``alteryx_error`` answers."""

    message: str


def alteryx_error(error: BeatlessError) -> Response:
    return Response(status_code=http_status(error), body={"message": error.message})


class Output(BaseModel):
    id: str
    availableFormats: list[str]
    fileName: str


class Message(BaseModel):
    status: int
    text: str
    toolId: int


class JobOut(BaseModel):
    id: str
    appId: str
    createDateTime: str
    status: str
    disposition: str
    outputs: list[Output]
    messages: list[Message] | None = None
    priority: str
    workerTag: str
    runWithE2: bool


class JobList(RootModel[list[JobOut]]):
    pass


class MessageList(RootModel[list[Message]]):
    pass


class CancelOut(BaseModel):
    message: str


class RunIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    priority: Literal["Default", "Low", "Medium", "High", "Critical"] = "Default"
    workerTag: str = ""


_route = functools.partial(
    route, bp, face=FACE, prefix=PREFIX, render=alteryx_error, error_model=AlteryxErrorOut
)


#: toolId of the attempt summaries: the engine's messages, not a step's (steps are 0, 1, …)
ATTEMPT_TOOL_ID = -1


def _messages(run: Run, page: Any) -> list[dict[str, Any]]:
    """The run's log, each earlier attempt summed up after its own lines (a log line's ``seq``
    starts with its attempt number, zero-padded to 4 digits). The current (or final) attempt
    has no summary: the job's status and disposition are its outcome."""
    attempts = [a for a in run.attempts or [] if int(a.number) != int(run.attempt)]
    messages = []
    for m in page.items:
        while attempts and int(attempts[0].number) < int(m.seq[:4]):
            messages.append(_attempt_message(attempts.pop(0)))
        messages.append(
            Message(status=LEVEL.get(m.level, 1), text=m.text, toolId=int(m.step)).model_dump()
        )
    return messages + [_attempt_message(a) for a in attempts]


def _attempt_message(attempt: Any) -> dict[str, Any]:
    text = f"Attempt {int(attempt.number)}: {attempt.outcome}"
    failed = attempt.outcome in (FAILED, TIMED_OUT)
    return Message(
        status=LEVEL["ERROR"] if failed else LEVEL["INFO"],
        text=f"{text}: {attempt.error}" if attempt.error else text,
        toolId=ATTEMPT_TOOL_ID,
    ).model_dump()


def job_out(run: Run, log: Any = None) -> dict[str, Any]:
    """A job as Alteryx shows it; with its messages when ``log`` (a page of the run's log) is
    given."""
    include_messages = log is not None
    status, disposition = STATUS[run.status]
    body = JobOut(
        id=run.run_id,
        appId=run.job_id or "",
        createDateTime=format_instant(run.queued_at) if run.queued_at else "",
        status=status,
        disposition=disposition,
        outputs=[],
        messages=_messages(run, log) if include_messages else None,
        priority=PRIORITY_OF.get(run.queue, "Default"),
        workerTag=run.queue if run.queue in ("high", "low") else "",
        runWithE2=True,
    ).model_dump()
    if not include_messages:
        body.pop("messages")
    return body


@_route(
    "/jobs/{job_id}",
    "GET",
    summary="A job (a beatless run) and its state",
    response=JobOut,
    query=(QueryParam("includeMessages", {"type": "boolean", "default": True}),),
)
def get_job(job_id: str) -> dict[str, Any]:
    if query_bool(bp, "includeMessages") is False:
        return job_out(services.run_service().get(principal(bp).tenant, job_id))
    run, log = services.run_service().with_messages(principal(bp).tenant, job_id, 1000)
    return job_out(run, log)


@_route(
    "/jobs/{job_id}/messages",
    "GET",
    summary="A job's messages (admins)",
    response=MessageList,
    access="admin",
)
def job_messages(job_id: str) -> list[dict[str, Any]]:
    return _messages(*services.run_service().with_messages(principal(bp).tenant, job_id, 1000))


@_route("/jobs/{job_id}", "DELETE", summary="Cancel a queued or running job", response=CancelOut)
def cancel_job(job_id: str) -> dict[str, str]:
    me = principal(bp)
    try:
        run = services.run_service().cancel(me.tenant, job_id, actor=me)
    except Forbidden:
        raise BadRequest("You do not have permission to cancel this job.") from None
    except Conflict:
        raise BadRequest("This job is not in 'Queued' or 'Running' state.") from None
    # A queued job is removed (it never runs); a running one is cancelled at its next check.
    deleted = run.status == CANCELLED
    return {"message": "Deleted Successfully." if deleted else "Cancelled Successfully."}


@_route(
    "/workflows/{workflow_id}/jobs",
    "GET",
    summary="A workflow's jobs, newest first",
    response=JobList,
)
def workflow_jobs(workflow_id: str) -> list[dict[str, Any]]:
    page = services.run_service().list_for_job(principal(bp).tenant, workflow_id, limit=100)
    return [job_out(run) for run in page.items]


@_route(
    "/workflows/{workflow_id}/jobs",
    "POST",
    summary="Queue a job now",
    request=RunIn,
    response=JobOut,
)
def run_workflow(workflow_id: str) -> dict[str, Any]:
    me = principal(bp)
    body = parse_body(bp, RunIn)
    queue = body.workerTag if body.workerTag in QUEUES else QUEUE_OF[body.priority]
    run = services.run_service().trigger(
        me.tenant, workflow_id, created_by=me.identity, queue=queue
    )
    return job_out(run)
