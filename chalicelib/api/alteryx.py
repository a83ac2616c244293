"""The Alteryx Server v3 jobs face, mounted at ``/webapi`` (``/webapi/v3/...`` and the OAuth2
token endpoint ``/webapi/oauth2/token``).

An Alteryx "job" is a beatless run; a "workflow" is a beatless job (``appId`` = the job id); a
workflow's questions are its task's parameters. Sources: ``shared/seeds/alteryx-server-v3-jobs-
api.txt`` and the product's swagger (definitions ``JobView``, ``WorkflowView``, ...); differences
in ``docs/alteryx.md``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from chalice import Blueprint, Response

from chalicelib import services
from chalicelib.api.errors import http_status
from chalicelib.api.lazy import Models
from chalicelib.api.routing import (
    QueryParam,
    principal,
    query_raw,
    route,
    validation_error,
)
from chalicelib.errors import (
    BadRequest,
    BeatlessError,
    Conflict,
    Forbidden,
    InvalidRequest,
    Unauthorized,
)
from chalicelib.records import Job, Run
from chalicelib.schedules.durations import format_instant
from chalicelib.vocabulary import RunStatus

# The core modules (jobs, runs, execution, targets, the task registry) are imported where a
# request uses them, once its service is built (chalicelib.services imports them then): importing
# the face does not load them (the API's cold start, issue 19).

#: The face's pydantic models, loaded by the first request that uses one (cold start).
models = Models("chalicelib.api.alteryx_models")

bp = Blueprint(__name__)
PREFIX = "/webapi"
FACE = "alteryx"
#: run status → (Alteryx status, disposition); ``Cancelled`` is the swagger's own status
#: (``WorkflowJobView.status``), which the generated client's monitor waits for.
STATUS = {
    RunStatus.QUEUED: ("Queued", "None"),
    RunStatus.RUNNING: ("Running", "None"),
    RunStatus.SUCCEEDED: ("Completed", "Success"),
    RunStatus.FAILED: ("Completed", "Error"),
    RunStatus.TIMED_OUT: ("Completed", "Error"),
    RunStatus.CANCELLED: ("Cancelled", "Cancelled"),
    RunStatus.SKIPPED: ("Cancelled", "Cancelled"),
}
#: What Alteryx (ASP.NET) answers a caller its role does not allow: 401, per the swagger.
DENIED = "Authorization has been denied for this request."
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


def alteryx_error(error: BeatlessError) -> Response:
    return Response(status_code=http_status(error), body={"message": error.message})


_route = functools.partial(
    route, bp, face=FACE, prefix=PREFIX, render=alteryx_error, error_model=models.AlteryxErrorOut
)


#: toolId of the attempt summaries: the engine's messages, not a step's (steps are 0, 1, …)
ATTEMPT_TOOL_ID = -1


def _messages(run: Run, page: Any) -> list[dict[str, Any]]:
    """The run's log, each earlier attempt summed up after its own lines (a log line's ``seq``
    starts with its attempt number, zero-padded to 4 digits); a failed run's error last (status
    3, toolId -1), as the engine's own error message ends a failed Alteryx job."""
    attempts = [a for a in run.attempts or [] if int(a.number) != int(run.attempt)]
    messages = []
    for m in page.items:
        while attempts and int(attempts[0].number) < int(m.seq[:4]):
            messages.append(_attempt_message(attempts.pop(0)))
        messages.append(
            models.Message(
                status=LEVEL.get(m.level, 1), text=m.text, toolId=int(m.step)
            ).model_dump()
        )
    messages += [_attempt_message(a) for a in attempts]
    # The outcome's error, as Alteryx's engine reports it.
    if run.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
        error = ": ".join(str(part) for part in (run.exc, run.error or run.reason) if part)
        messages.append(
            models.Message(
                status=LEVEL["ERROR"], text=error or run.status, toolId=ATTEMPT_TOOL_ID
            ).model_dump()
        )
    return messages


def _attempt_message(attempt: Any) -> dict[str, Any]:
    text = f"Attempt {int(attempt.number)}: {attempt.outcome}"
    failed = attempt.outcome in (RunStatus.FAILED, RunStatus.TIMED_OUT)
    return models.Message(
        status=LEVEL["ERROR"] if failed else LEVEL["INFO"],
        text=f"{text}: {attempt.error}" if attempt.error else text,
        toolId=ATTEMPT_TOOL_ID,
    ).model_dump()


def _labels(run: Run) -> dict[str, Any]:
    return run.labels if isinstance(run.labels, dict) else {}


def _priority(run: Run) -> str:
    """As sent (``Critical`` stays ``Critical``), else the queue's."""
    return str(_labels(run).get("priority") or PRIORITY_OF.get(run.queue, "Default"))


def _worker_tag(run: Run) -> str:
    labels = _labels(run)
    if "workerTag" in labels:
        return str(labels["workerTag"])
    return run.queue if run.queue in ("high", "low") else ""


def _instant(when: datetime | None) -> str | None:
    return format_instant(when) if when else None


def job_out(run: Run, log: Any = None) -> dict[str, Any]:
    """A job as Alteryx shows it (``JobView``); with its messages when ``log`` (a page of the
    run's log) is given."""
    include_messages = log is not None
    status, disposition = STATUS[run.status]
    body = models.JobOut(
        id=run.run_id,
        appId=run.job_id or "",
        createDateTime=format_instant(run.queued_at or run.ended_at),
        status=status,
        disposition=disposition,
        outputs=[],
        messages=_messages(run, log) if include_messages else None,
        priority=_priority(run),
        workerTag=_worker_tag(run),
        runWithE2=True,
    ).model_dump()
    if not include_messages:
        body.pop("messages")
    return body


def _flag(name: str, absent: bool) -> bool:
    """A boolean query parameter as generated clients send it: ``true``, ``True``, ``1``, or no
    value at all (the seed: "can be left without a value"), which means true."""
    raw = query_raw(bp, name)
    if raw is None:
        return absent
    if raw.strip().lower() in ("", "true", "1"):
        return True
    if raw.strip().lower() in ("false", "0"):
        return False
    raise InvalidRequest(name, f"{raw[:100]!r} must be true or false")


def _include_messages() -> bool:
    """``includeMessages``: absent means true."""
    return _flag("includeMessages", absent=True)


@_route(
    "/v3/jobs/{job_id}",
    "GET",
    summary="A job (a beatless run) and its state",
    response=models.JobOut,
    query=(QueryParam("includeMessages", {"type": "boolean", "default": True}),),
)
def get_job(job_id: str) -> dict[str, Any]:
    if not _include_messages():
        return job_out(services.run_service().get(principal(bp).tenant, job_id))
    run, log = services.run_service().with_messages(principal(bp).tenant, job_id, 1000)
    return job_out(run, log)


@_route(
    "/v3/jobs/{job_id}/messages",
    "GET",
    summary="A job's messages (Curators, that is admin keys; others get Alteryx's 401)",
    response=models.MessageList,
    operation_id="listJobMessages",
)
def job_messages(job_id: str) -> list[dict[str, Any]]:
    me = principal(bp)
    if not me.is_admin:
        raise Unauthorized(DENIED)
    return _messages(*services.run_service().with_messages(me.tenant, job_id, 1000))


@_route(
    "/v3/jobs/{job_id}",
    "DELETE",
    summary="Cancel a running job, delete a queued one",
    response=models.CancelOut,
)
def cancel_job(job_id: str) -> dict[str, str]:
    me = principal(bp)
    try:
        run = services.run_service().cancel(me.tenant, job_id, actor=me, remove_queued=True)
    except Forbidden:
        raise BadRequest("You do not have permission to cancel this job.") from None
    except Conflict:
        raise BadRequest("This job is not in 'Queued' or 'Running' state.") from None
    # A queued job is deleted (it never runs: 404 afterwards); a running one is cancelled at
    # its next check.
    deleted = run.status == RunStatus.CANCELLED
    return {"message": "Deleted Successfully." if deleted else "Cancelled Successfully."}


# -- job lists -----------------------------------------------------------------------------------

#: How many of a workflow's (or a tenant's) newest runs a list reads before sorting and paging.
LIST_WINDOW = 1000


def _int_param(name: str, default: int) -> int:
    raw = query_raw(bp, name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise InvalidRequest(name, f"{raw[:100]!r} must be a non-negative integer")
    return int(raw)


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """A case-insensitive enumerated query parameter, as .NET binds them."""
    raw = query_raw(bp, name)
    if raw is None or raw == "":
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise InvalidRequest(name, f"{raw[:100]!r} must be one of {', '.join(choices)}")


_SORT_KEYS = {
    "CreateDate": lambda run: run.queued_at or run.ended_at,
    "Status": lambda run: STATUS[run.status][0],
    "Priority": lambda run: list(QUEUE_OF).index(_priority(run)),
    "CompletionDateTime": lambda run: run.ended_at or datetime.max.replace(tzinfo=None),
}
_PAGING = (
    QueryParam("sortField", {"type": "string"}, "CreateDate (default), Status or Priority"),
    QueryParam("direction", {"type": "string"}, "asc or desc (default)"),
    QueryParam("offset", {"type": "string"}, "Jobs to skip"),
    QueryParam("limit", {"type": "string"}, "Jobs to answer at most"),
)


def _sorted_page(runs: list[Any], key_of: Any = lambda r: r) -> list[Any]:
    """``runs`` sorted by ``sortField``/``direction`` and cut by ``offset``/``limit``."""
    field = _choice("sortField", tuple(_SORT_KEYS), "CreateDate")
    descending = _choice("direction", ("asc", "desc"), "desc") == "desc"
    offset, limit = _int_param("offset", 0), _int_param("limit", LIST_WINDOW)
    key = _SORT_KEYS[field]
    ordered = sorted(
        runs, key=lambda r: (str(key(key_of(r))), key_of(r).run_id), reverse=descending
    )
    return ordered[offset : offset + limit]


_STATUS_FILTER = {
    "Complete": (
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.TIMED_OUT,
        RunStatus.CANCELLED,
        RunStatus.SKIPPED,
    ),
    "Error": (RunStatus.FAILED, RunStatus.TIMED_OUT),
    "Running": (RunStatus.RUNNING,),
    "Queued": (RunStatus.QUEUED,),
}
_RESULT_FILTER = {
    "Success": (RunStatus.SUCCEEDED,),
    "Warning": (),
    "Error": (RunStatus.FAILED, RunStatus.TIMED_OUT),
}


@_route(
    "/v3/workflows/{workflow_id}/jobs",
    "GET",
    summary="A workflow's jobs, newest first (sortField, direction, offset, limit)",
    response=models.WorkflowJobList,
    query=(
        *_PAGING,
        QueryParam("status", {"enum": list(_STATUS_FILTER)}),
        QueryParam("resultCode", {"enum": list(_RESULT_FILTER)}),
    ),
    operation_id="listWorkflowJobs",
)
def workflow_jobs(workflow_id: str) -> list[dict[str, Any]]:
    status = _choice("status", tuple(_STATUS_FILTER), "")
    result = _choice("resultCode", tuple(_RESULT_FILTER), "")
    page = services.run_service().list_for_job(principal(bp).tenant, workflow_id, limit=LIST_WINDOW)
    runs = [
        r
        for r in page.items
        if (not status or r.status in _STATUS_FILTER[status])
        and (not result or r.status in _RESULT_FILTER[result])
    ]
    return [
        models.WorkflowJobOut(
            id=run.run_id,
            createDate=format_instant(run.queued_at or run.ended_at),
            status=STATUS[run.status][0],  # type: ignore[arg-type]
            priority=_priority(run),
            workerTag=_worker_tag(run),
            runWithE2=True,
        ).model_dump()
        for run in _sorted_page(runs)
    ]


_QUEUE_STATUS = {"Queued": (RunStatus.QUEUED,), "Initializing": (), "Running": (RunStatus.RUNNING,)}
_QUEUE_STATUS["Complete"] = _STATUS_FILTER["Complete"]


def _csv(name: str) -> list[str]:
    raw = query_raw(bp, name) or ""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _date(name: str) -> str | None:
    raw = query_raw(bp, name)
    if raw and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise InvalidRequest(name, f"{raw[:100]!r} must be a date as yyyy-MM-dd")
    return raw or None


@_route(
    "/v3/jobs",
    "GET",
    summary="The job listing: your jobs, or with allUsers=true (admins) everyone's",
    response=models.PagedJobsOut,
    query=(
        *_PAGING,
        QueryParam("priorities", {"type": "string"}, "Low, Medium, High, Critical, Default"),
        QueryParam("statuses", {"type": "string"}, "Queued, Initializing, Running, Complete"),
        QueryParam("users", {"type": "string"}, "Creators (owner labels or key ids)"),
        QueryParam("allUsers", {"type": "boolean"}),
        QueryParam("workflowNames", {"type": "string"}),
        QueryParam("completedBefore", {"type": "string"}, "yyyy-MM-dd"),
        QueryParam("completedAfter", {"type": "string"}, "yyyy-MM-dd"),
    ),
)
def list_jobs() -> dict[str, Any]:
    me = principal(bp)
    all_users = _flag("allUsers", absent=False)
    if all_users and not me.is_admin:
        raise Unauthorized(DENIED)
    priorities = {p.lower() for p in _csv("priorities")}
    statuses = [_QUEUE_STATUS.get(s.capitalize()) for s in _csv("statuses")]
    if None in statuses:
        raise InvalidRequest("statuses", f"must list {', '.join(_QUEUE_STATUS)}")
    wanted = {s for group in statuses for s in group or ()}
    users, names = set(_csv("users")), set(_csv("workflowNames"))
    before, after = _date("completedBefore"), _date("completedAfter")
    pairs = [
        (run, job)
        for run, job in services.run_service().list_with_jobs(me.tenant, limit=LIST_WINDOW)
        if (
            run.created_by in users
            if all_users and users
            else all_users or run.created_by == me.identity
        )
        and (not priorities or _priority(run).lower() in priorities)
        and (not statuses or run.status in wanted)
        and (not names or (job is not None and job.name in names))
        and (not before or (run.ended_at and format_instant(run.ended_at)[:10] < before))
        and (not after or (run.ended_at and format_instant(run.ended_at)[:10] >= after))
    ]
    offset, limit = _int_param("offset", 0), max(_int_param("limit", 100), 1)
    page = _sorted_page(pairs, key_of=lambda pair: pair[0])
    return models.PagedJobsOut(
        data=[_summary(run, job) for run, job in page],
        pagination=models.PaginationOut(
            currentPage=offset // limit + 1,
            pageSize=limit,
            totalItems=len(pairs),
            totalPages=(len(pairs) + limit - 1) // limit,
            hasNextPage=offset + limit < len(pairs),
            hasPreviousPage=offset > 0,
        ),
    ).model_dump()


def _summary(run: Run, job: Job | None) -> models.JobSummaryOut:
    took = (
        (run.ended_at - run.started_at).total_seconds() if run.ended_at and run.started_at else None
    )
    return models.JobSummaryOut(
        jobId=run.run_id,
        status="Completed"
        if STATUS[run.status][0] in ("Completed", "Cancelled")
        else STATUS[run.status][0],
        workflowName=job.name if job is not None else "",
        workflowId=run.job_id or "",
        submittedBy=run.created_by or "",
        startTime=_instant(run.started_at),
        queueTime=_instant(run.queued_at),
        executionTime=f"{took:.3f}s" if took is not None else None,
        priority=_priority(run),
    )


# -- workflows -----------------------------------------------------------------------------------


def _reduced(job: Job) -> dict[str, Any]:
    return models.ReducedWorkflowOut(
        id=job.job_id,
        sourceAppId=job.job_id,
        name=job.name,
        ownerId=job.created_by or "",
        dateCreated=format_instant(job.created_at),
        publishedVersionNumber=int(job.version or 1),
        isAmp=True,
        executionMode="Standard",
    ).model_dump()


def _workflow(job: Job) -> dict[str, Any]:
    return models.WorkflowOut(
        id=job.job_id,
        sourceAppId=job.job_id,
        dateCreated=format_instant(job.created_at),
        runCount=int(job.total_run_count or 0),
        versions=[],
        name=job.name,
        ownerId=job.created_by or "",
        workerTag="",
        districtTags=[],
        comments=job.description or "",
        isPublic=False,
        isReadyForMigration=False,
        publishedVersionId=job.job_id,
        othersMayDownload=False,
        othersCanViewHistory=True,
        othersCanExecute=True,
        executionMode="Standard",
        hasPrivateDataExemption=False,
        packageWorkflowType="App",
    ).model_dump()


@_route(
    "/v3/workflows",
    "GET",
    summary="Your tenant's workflows (beatless jobs), oldest first",
    response=models.WorkflowList,
    query=(
        QueryParam("view", {"enum": ["Default", "Full"]}),
        QueryParam("name", {"type": "string"}, "Exact name"),
        QueryParam("ownerId", {"type": "string"}, "Creator (owner label or key id)"),
        QueryParam("createdAfter", {"type": "string"}, "yyyy-MM-dd or RFC 3339"),
        QueryParam("createdBefore", {"type": "string"}, "yyyy-MM-dd or RFC 3339"),
    ),
)
def list_workflows() -> list[dict[str, Any]]:
    view = _choice("view", ("Default", "Full"), "Default")
    name, owner = query_raw(bp, "name") or None, query_raw(bp, "ownerId") or None
    after, before = query_raw(bp, "createdAfter") or "", query_raw(bp, "createdBefore") or ""
    for field, value in (("createdAfter", after), ("createdBefore", before)):
        if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}([Tt ].*)?", value):
            raise InvalidRequest(field, f"{value[:100]!r} must be a date as yyyy-MM-dd")
    page = services.job_service().list(principal(bp).tenant, limit=LIST_WINDOW, name_prefix=name)
    shape = _workflow if view == "Full" else _reduced
    return [
        shape(job)
        for job in page.items
        if (name is None or job.name == name)
        and (owner is None or job.created_by == owner)
        and (not after or format_instant(job.created_at) >= after)
        and (not before or format_instant(job.created_at)[: len(before)] <= before)
    ]


@_route(
    "/v3/workflows/{workflow_id}",
    "GET",
    summary="A workflow (a beatless job)",
    response=models.WorkflowOut,
)
def get_workflow(workflow_id: str) -> dict[str, Any]:
    return _workflow(services.job_service().get(principal(bp).tenant, workflow_id))


#: Alteryx question types by parameter type.
QUESTION_TYPE = {
    "str": "QuestionTextBox",
    "int": "QuestionNumericUpDown",
    "float": "QuestionNumericUpDown",
    "bool": "QuestionBooleanGroup",
    "list": "QuestionTextBox",
    "dict": "QuestionTextBox",
}


def _answer(value: Any) -> str:
    """A value as an Alteryx answer string (JSON for lists, objects and booleans)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


@_route(
    "/v3/workflows/{workflow_id}/questions",
    "GET",
    summary="The workflow's questions: its task's parameters",
    response=models.QuestionList,
    query=(QueryParam("versionId", {"type": "string"}, "Only the published one (the id)"),),
    operation_id="listWorkflowQuestions",
)
def workflow_questions(workflow_id: str) -> list[dict[str, Any]]:
    job, params = services.job_service().with_parameters(principal(bp).tenant, workflow_id)
    version = query_raw(bp, "versionId")
    if version and version != job.job_id:
        raise InvalidRequest("versionId", f"{version[:100]!r} is not a version of this workflow")
    kwargs = job.kwargs or {}
    return [
        models.QuestionOut(
            name=p.name,
            questionType="QuestionDropDown" if p.choices else QUESTION_TYPE[p.type_name],
            description=f"{p.name} ({p.type_name}, {'required' if p.required else 'optional'})",
            value=_answer(kwargs.get(p.name, p.default)),
            multiple=False,
            items=[models.QuestionItemOut(key=_answer(c), value=_answer(c)) for c in p.choices],
        ).model_dump()
        for p in params
    ]


def _parse_run_in() -> models.RunIn:
    """The ``EnqueueJobContract`` from a JSON or a form body (``questions[0][name]=...`` or
    ``questions[0].name=...``, as .NET binds forms); every failure a 400 naming the field."""
    request = bp.current_request
    raw = request.raw_body or b""
    content_type = (request.headers.get("content-type") or "").lower()
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            data: Any = _form(raw.decode())
        else:
            data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest("body", f"is not valid JSON or form data ({error})") from None
    if not isinstance(data, dict):
        raise InvalidRequest("body", "must be a JSON object")
    if len(json.dumps(data.get("questions"))) > 64 * 1024:
        raise InvalidRequest("questions", "is over 64 KB as JSON")
    from pydantic import ValidationError  # with the model: at a request, not at import

    try:
        return models.RunIn.model_validate(data)
    except ValidationError as error:
        raise validation_error(error) from None


_INDEXED = re.compile(r"^questions\[(\d+)\](?:\[(\w+)\]|\.(\w+))$")


def _form(text: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    questions: dict[int, dict[str, str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        found = _INDEXED.match(name)
        if found:
            questions.setdefault(int(found[1]), {})[found[2] or found[3]] = value
        elif name == "questions":
            data["questions"] = json.loads(value) if value.strip() else []
        else:
            data[name] = value
    if questions:
        data["questions"] = [questions[i] for i in sorted(questions)]
    return data


@_route(
    "/v3/workflows/{workflow_id}/jobs",
    "POST",
    summary="Queue a job now; questions answer the task's parameters",
    limited=True,
    request=models.RunIn,
    response=models.JobOut,
    body_optional=True,
    idempotent=True,
)
def run_workflow(workflow_id: str) -> dict[str, Any]:
    from chalicelib.tasks import QUEUES

    me = principal(bp)
    body = _parse_run_in()
    tag = body.workerTag or ""
    if tag in QUEUES:
        queue: str | None = tag
    elif body.priority not in (None, "Default"):
        queue = QUEUE_OF[body.priority]
    else:
        queue = None  # the workflow's own queue
    answers = {q.name: _answer(q.value) for q in body.questions or []}
    run = services.run_service().trigger(
        me.tenant,
        workflow_id,
        created_by=me.identity,
        queue=queue,
        answers=answers if body.questions is not None else None,
        labels={"priority": body.priority or "Default", "workerTag": tag},
    )
    return job_out(run)


# -- OAuth2 ---------------------------------------------------------------------------------------


def oauth_error(error: BeatlessError) -> Response:
    """RFC 6749 §5.2: ``invalid_client`` (401, with a Basic challenge) for bad credentials,
    ``unsupported_grant_type`` or ``invalid_request`` (400) for a bad request."""
    status = http_status(error)
    if isinstance(error, Unauthorized):
        code, status = "invalid_client", 401
    elif isinstance(error, InvalidRequest) and error.details.get("field") == "grant_type":
        code = (
            "unsupported_grant_type"
            if error.details.get("rule", "").startswith("'")
            else "invalid_request"
        )
    elif status < 500:
        code = "invalid_request"
    else:
        code = "temporarily_unavailable"
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="beatless"'
    return Response(
        status_code=status,
        body={"error": code, "error_description": error.message},
        headers=headers,
    )


def _client_credentials(form: dict[str, str]) -> tuple[str, str]:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1, both real clients) or the
    form's fields."""
    header = bp.current_request.headers.get("authorization") or ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials are not base64 of id:secret") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise Unauthorized("the Basic credentials are not id:secret")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


@route(
    bp,
    "/oauth2/token",
    "POST",
    face=FACE,
    prefix=PREFIX,
    summary="OAuth2 client credentials: client_id = a key's id, client_secret = the key",
    request=models.TokenIn,
    request_media="application/x-www-form-urlencoded",
    response=models.TokenOut,
    access="public",
    render=oauth_error,
    error_model=models.OAuthErrorOut,
    errors=(400, 401, 503),
    operation_id="requestToken",
)
def token() -> Response:
    raw = bp.current_request.raw_body or b""
    try:
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise InvalidRequest("body", "must be form-encoded") from None
    grant = form.get("grant_type")
    if not grant:
        raise InvalidRequest("grant_type", "is required")
    if grant != "client_credentials":
        raise InvalidRequest(
            "grant_type", f"'{grant[:50]}' is not supported; use client_credentials"
        )
    client_id, secret = _client_credentials(form)
    if not client_id or not secret:
        raise Unauthorized("client_id and client_secret are required (HTTP Basic or the form)")
    access_token, lifetime = services.keys().issue_token(client_id, secret)
    return Response(
        status_code=200,
        body=models.TokenOut(
            access_token=access_token, token_type="bearer", expires_in=lifetime
        ).model_dump(),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
