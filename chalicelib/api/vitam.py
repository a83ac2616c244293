"""The Vitam worker tasks face, mounted at ``/vitam/v1``.

A Vitam step (``{"Step", "otherInfo", "actions": [...]}``) is a multi-step beatless run, each
action a registered task called with its ``arguments`` as keyword arguments. Source:
``shared/seeds/vitam-worker-api.txt``; deliberate differences in ``docs/vitam.md``.

Headers: every answer carries ``X-Request-Id`` (the request's, or a new one); ``X-Tenant-Id`` is
required (412 without it) and must be the key's tenant (401 otherwise); ``X-Application-Id`` is
logged; error answers carry ``FullApiVersion``.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import services
from chalicelib.api.errors import http_status
from chalicelib.api.routing import QueryParam, parse_body, principal, query_value, route
from chalicelib.auth import Principal
from chalicelib.errors import BeatlessError, Conflict, InvalidRequest, Unauthorized
from chalicelib.execution import (
    CANCELLED,
    FAILED,
    QUEUED,
    RETENTION,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
)
from chalicelib.records import Run
from chalicelib.runs import steps_of
from chalicelib.schedules.durations import format_instant, parse_instant
from chalicelib.schedules.errors import ScheduleError
from chalicelib.settings import get_settings
from chalicelib.tasks import registry

bp = Blueprint(__name__)
PREFIX = "/vitam/v1"
FACE = "vitam"
API_VERSION = "V1.0"
log = logging.getLogger(__name__)
STATE = {
    QUEUED: ("pending", "queued"),
    RUNNING: ("running", "running"),
    SUCCEEDED: ("done", "commit"),
    FAILED: ("done", "ko"),
    TIMED_OUT: ("done", "timeout"),
    CANCELLED: ("done", "cancelled"),
    SKIPPED: ("done", "skipped"),
}
ACTION_STATUS = {
    SUCCEEDED: "OK",
    FAILED: "KO",
    RUNNING: "Running",
    CANCELLED: "Cancelled",
    None: "Pending",
}
_STATES = {
    400: "Bad_Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not_Found",
    409: "Conflict",
    412: "Precondition_Failed",
    413: "Request_Entity_Too_Large",
    503: "Service_Unavailable",
}
_CLAUSE = re.compile(r"^(name)\s*=\s*'([^']*)'$|^(since)\s*>\s*'([^']*)'$")


class PreconditionFailed(BeatlessError):
    """A Vitam header is missing or wrong: Vitam answers 412."""

    code = "precondition_failed"


TENANT_HEADERS = (
    QueryParam(
        "X-Tenant-Id", {"type": "string", "minLength": 1}, "the key's tenant", "header", True
    ),
    QueryParam("X-Request-Id", {"type": "string"}, "echoed back (one is made if absent)", "header"),
    QueryParam("X-Application-Id", {"type": "string"}, "logged", "header"),
)


def _request_id() -> str:
    headers = bp.current_request.headers or {}
    return str(headers.get("x-request-id") or uuid.uuid4().hex)[:128]


class VitamErrorOut(BaseModel):
    """What ``vitam_error`` answers."""

    http_code: int
    code: str
    state: str
    message: str
    description: str
    errors: list[Any]


def vitam_error(error: BeatlessError) -> Response:
    """Vitam's error shape, with its headers."""
    status = 412 if isinstance(error, PreconditionFailed) else http_status(error)
    body = {
        "http_code": status,
        "code": error.code,
        "state": _STATES.get(status, "Internal_Server_Error"),
        "message": error.message,
        "description": error.message,
        "errors": [],
    }
    return Response(
        status_code=status,
        body=body,
        headers={"X-Request-Id": _request_id(), "FullApiVersion": API_VERSION},
    )


def _answer(body: Any, status: int = 200) -> Response:
    return Response(status_code=status, body=body, headers={"X-Request-Id": _request_id()})


def _route(path: str, method: str, **kwargs: Any) -> Any:
    if kwargs.get("access") != "public":
        kwargs["query"] = (*kwargs.get("query", ()), *TENANT_HEADERS)
        kwargs["errors"] = (400, 404, 409, 412, 413, 422, 503)
    return route(
        bp,
        path,
        method,
        face=FACE,
        prefix=PREFIX,
        render=vitam_error,
        error_model=VitamErrorOut,
        **kwargs,
    )


def _caller() -> Principal:
    """The caller, once X-Tenant-Id checks out (412 when missing, 401 when not the key's)."""
    headers = bp.current_request.headers or {}
    tenant = headers.get("x-tenant-id")
    if tenant is None or not str(tenant).strip():
        raise PreconditionFailed("X-Tenant-Id is required")
    me = principal(bp)
    if str(tenant).strip() != me.tenant:
        raise Unauthorized("X-Tenant-Id is not the tenant of this key")
    if headers.get("x-application-id"):
        log.info("vitam call from application %s", headers.get("x-application-id"))
    return me


class Action(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: str = Field(min_length=1, max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    results: dict[str, Any] | None = None
    status: str | None = None
    post_assign: list[Any] | None = None
    start_time: str | None = None
    end_time: str | None = None


class StepIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    Step: str = Field(min_length=1, max_length=200)
    otherInfo: Any = None
    actions: list[Action] = Field(min_length=1, max_length=50)


class TaskError(BaseModel):
    http_code: int
    code: str
    state: str
    message: str
    description: str
    errors: list[dict[str, Any]]


class TaskOut(BaseModel):
    id: str
    type: str
    state: str
    task_status: str
    start_date: str | None
    end_date: str | None
    expiration_date: str
    result_link: str
    error: TaskError | None
    actions: list[dict[str, Any]]


class Hits(BaseModel):
    total: int
    size: int
    offset: int
    limit: int
    time_out: bool
    next: str | None


class TaskList(BaseModel):
    hits: Hits
    context: dict[str, Any]
    results: list[str]


class StatusOut(BaseModel):
    id: str
    service: str
    startDate: str
    status: str


def task_out(run: Run) -> dict[str, Any]:
    state, task_status = STATE[run.status]
    data = run.data if isinstance(run.data, dict) else {}
    declared = data.get("results") or []
    actions = []
    for index, step in enumerate(run.steps or []):
        keys = declared[index] if index < len(declared) else None
        actions.append(
            {
                "action": step.get("task"),
                "arguments": step.get("kwargs", {}),
                "results": _results(step.get("result"), keys) if "result" in step else None,
                "status": ACTION_STATUS.get(step.get("status"), step.get("status")),
                "start_time": step.get("started_at"),
                "end_time": step.get("ended_at"),
            }
        )
    error = None
    if run.status in (FAILED, TIMED_OUT):
        error = TaskError(
            http_code=500,
            code=run.exc or "TimedOut",
            state=run.status,
            message=run.error or run.reason or run.status,
            description=(run.traceback or run.reason or "").strip().splitlines()[-1:][0]
            if (run.traceback or run.reason)
            else "",
            errors=[
                _attempt_error(a)
                for a in run.attempts or []
                if int(a.number) != int(run.attempt) and a.error
            ],
        )
    expires = run.expires_at or (run.queued_at or datetime.now().astimezone()) + RETENTION
    return TaskOut(
        id=run.run_id,
        type=str(data.get("Step") or run.task or "task"),
        state=state,
        task_status=task_status,
        start_date=format_instant(run.started_at) if run.started_at else None,
        end_date=format_instant(run.ended_at) if run.ended_at else None,
        expiration_date=format_instant(expires),
        result_link=f"{PREFIX}/tasks/{run.run_id}",
        error=error,
        actions=actions,
    ).model_dump()


def _attempt_error(attempt: Any) -> dict[str, Any]:
    """An earlier attempt's failure, as one of Vitam's nested ``errors``."""
    code, _, message = str(attempt.error).partition(": ")
    return {
        "http_code": 500,
        "code": code,
        "state": attempt.outcome,
        "message": message or code,
        "description": f"attempt {int(attempt.number)}, ended {format_instant(attempt.ended_at)}",
    }


def _results(value: Any, keys: list[str] | None) -> Any:
    """An action's ``results``: the declared keys filled from a dict return value."""
    if keys and isinstance(value, dict):
        return {key: value.get(key) for key in keys}
    return value if isinstance(value, dict) else {"result": value}


@_route("/status", "GET", summary="The worker's status", response=StatusOut, access="public")
def status() -> Response:
    from chalicelib.api.native import INSTANCE_ID, STARTED

    body = StatusOut(
        id=INSTANCE_ID,
        service=f"beatless {get_settings().version}",
        startDate=format_instant(STARTED),
        status="Active",
    )
    return _answer(body.model_dump())


@_route("/tasks", "POST", summary="Submit a step", request=StepIn, response=TaskOut, status=201)
def submit() -> Response:
    me = _caller()
    body = parse_body(bp, StepIn)
    try:
        steps = steps_of(
            registry,
            None,
            [{"task": a.action, "kwargs": a.arguments} for a in body.actions],
            None,
            None,
        )
    except InvalidRequest as error:
        field = error.field.replace("steps.", "actions.").replace(".task", ".action")
        raise InvalidRequest(field, error.rule) from None
    data = {
        "Step": body.Step,
        "otherInfo": body.otherInfo,
        "results": [sorted(a.results) if a.results else None for a in body.actions],
    }
    run = services.run_service().submit(me.tenant, steps, data=data, created_by=me.identity)
    return _answer(task_out(run), 201)


@_route("/tasks/{id_async}", "GET", summary="A task", response=TaskOut)
def get_task(id_async: str) -> Response:
    me = _caller()
    return _answer(task_out(services.run_service().get(me.tenant, id_async)))


@_route("/tasks/{id_async}", "PUT", summary="Cancel a task at its next action", response=TaskOut)
def cancel_task(id_async: str) -> Response:
    me = _caller()
    try:
        run = services.run_service().cancel(me.tenant, id_async, actor=me)
    except Conflict as error:
        raise Conflict(f"task {id_async!r} is already done", error.details) from None
    return _answer(task_out(run))


def _query() -> str:
    """The seed sends ``{"query": ...}`` as a GET body; ``?query=`` works too."""
    raw = bp.current_request.raw_body
    if raw and raw.strip():
        body = parse_body(bp, QueryIn)
        return body.query
    return query_value(bp, "query") or ""


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    query: str = Field("", max_length=1000)


def parse_query(text: str) -> tuple[str | None, datetime | None]:
    """``name='abc*'&since>'2015-07-14'``: a name (``*`` as a trailing wildcard) and a date."""
    name, since = None, None
    for clause in filter(None, (c.strip() for c in text.split("&"))):
        match = _CLAUSE.match(clause)
        if not match:
            raise InvalidRequest("query", f"{clause!r}: use name='prefix*' and since>'date'")
        if match.group(1):
            name = match.group(2)
        else:
            value = match.group(4)
            try:
                since = parse_instant(value if "T" in value else f"{value}T00:00:00Z", "query")
            except ScheduleError:
                raise InvalidRequest("query", f"since>{value!r} is not a date") from None
    return name, since


def _matches(run: Run, name: str | None, since: datetime | None) -> bool:
    step = run.data.get("Step") if isinstance(run.data, dict) else run.task
    if name is not None:
        if name.endswith("*"):
            if not str(step or "").startswith(name[:-1]):
                return False
        elif step != name:
            return False
    return not (since is not None and (run.queued_at is None or run.queued_at < since))


def _in_progress(tenant: str, text: str, limit: int, cursor: str | None) -> tuple[list[str], Any]:
    name, since = parse_query(text)
    page = services.run_service().list(
        tenant, limit=limit, cursor=cursor, statuses=(QUEUED, RUNNING)
    )
    return [r.run_id for r in page.items if _matches(r, name, since)], page.cursor


QUERY = QueryParam(
    "query", {"type": "string", "maxLength": 1000}, "name='prefix*' and since>'date'"
)
NEXT = QueryParam("next", {"type": "string"}, "the cursor of the previous page")


@_route(
    "/tasks",
    "GET",
    summary="Tasks in progress, filtered by query",
    response=TaskList,
    query=(QUERY, NEXT),
)
def list_tasks() -> Response:
    me = _caller()
    text = _query()
    limit = 100
    offset_cursor = query_value(bp, "next")
    ids, cursor = _in_progress(me.tenant, text, limit, offset_cursor)
    body = TaskList(
        hits=Hits(
            total=len(ids), size=len(ids), offset=0, limit=limit, time_out=False, next=cursor
        ),
        context={"query": text},
        results=ids,
    )
    return _answer(body.model_dump())


@_route(
    "/tasks",
    "PUT",
    summary="Cancel the tasks in progress a query selects",
    response=TaskList,
    query=(QUERY,),
)
def cancel_tasks() -> Response:
    me = _caller()
    text = _query()
    cancelled: list[str] = []
    cursor = None
    for _ in range(10):  # at most 1,000 tasks per call
        ids, cursor = _in_progress(me.tenant, text, 100, cursor)
        for run_id in ids:
            try:
                services.run_service().cancel(me.tenant, run_id, actor=me)
                cancelled.append(run_id)
            except BeatlessError:  # already done, or not the caller's: not cancelled
                continue
        if cursor is None:
            break
    body = TaskList(
        hits=Hits(
            total=len(cancelled),
            size=len(cancelled),
            offset=0,
            limit=1000,
            time_out=False,
            next=cursor,
        ),
        context={"query": text},
        results=cancelled,
    )
    return _answer(body.model_dump())
