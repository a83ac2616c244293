"""The Vitam worker tasks face, mounted at ``/worker/v1`` (where Vitam's ``WorkerClientRest``
calls its worker) and at ``/vitam/v1`` (the seed's prefix): the same operations at both.

``POST /tasks`` takes two bodies. Vitam's own ``DescriptionStep`` (``{"step": {"stepName",
"actions": [{"action": {"actionKey", "behavior"}}]}, "workParams"}``) runs as a multi-step
beatless run, one registered task per ``actionKey``, and is answered as ``WorkerResource``
answers: 200 with an ``ItemStatus`` once the step is done, or, past a bound, 461 (Vitam's "retry
later") naming the task. The seed's draft (``{"Step", "otherInfo", "actions": [...]}``) is
answered at once with the async task (201). Sources: Vitam's ``WorkerResource``,
``WorkerClientRest``, ``ItemStatus``, ``VitamError`` and ``shared/seeds/vitam-worker-api.txt``;
differences in ``docs/vitam.md``.

Headers: every answer carries ``X-Request-Id`` (the request's, or a new one) and
``FullApiVersion``; ``X-Tenant-Id`` is required (412 without it) and must be the key's tenant
(401 otherwise); ``X-Application-Id`` is logged; ``X-Http-Method-Override: GET|DELETE`` turns a
request into that method, as Vitam's ``HttpMethodOverrideFilter`` does.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from datetime import datetime
from typing import Any, Literal

from chalice import Blueprint, Response

from chalicelib import services
from chalicelib.api.errors import http_status
from chalicelib.api.lazy import Models
from chalicelib.api.routing import (
    AWS_ERRORS,
    CONTENT_TYPES,
    QueryParam,
    answer_error,
    parse_body,
    principal,
    query_value,
    route,
    validation_error,
)
from chalicelib.auth import Principal
from chalicelib.errors import BeatlessError, Conflict, InvalidRequest, Unauthorized
from chalicelib.records import Run
from chalicelib.schedules.durations import format_instant, parse_instant
from chalicelib.schedules.errors import ScheduleError
from chalicelib.settings import get_settings
from chalicelib.synchronous import submit_and_wait
from chalicelib.vocabulary import RunStatus

# The core modules (jobs, runs, execution, targets, the task registry) are imported where a
# request uses them, once its service is built (chalicelib.services imports them then): importing
# the face does not load them (the API's cold start, issue 19).

#: The face's pydantic models, loaded by the first request that uses one (cold start).
models = Models("chalicelib.api.vitam_models")

bp = Blueprint(__name__)
worker_bp = Blueprint(f"{__name__}.worker")
PREFIX = "/vitam/v1"
#: ``WorkerClientFactory.RESOURCE_PATH``: where Vitam's worker client sends its requests.
WORKER_PREFIX = "/worker/v1"
BLUEPRINTS = ((bp, PREFIX), (worker_bp, WORKER_PREFIX))
#: ``WorkerResource.getErrorEntity``'s context.
CONTEXT = "WORKER"
FACE = "vitam"
API_VERSION = "V1.0"
log = logging.getLogger(__name__)
STATE = {
    RunStatus.QUEUED: ("pending", "queued"),
    RunStatus.RUNNING: ("running", "running"),
    RunStatus.SUCCEEDED: ("done", "commit"),
    RunStatus.FAILED: ("done", "ko"),
    RunStatus.TIMED_OUT: ("done", "timeout"),
    RunStatus.CANCELLED: ("done", "cancelled"),
    RunStatus.SKIPPED: ("done", "skipped"),
}
ACTION_STATUS = {
    RunStatus.SUCCEEDED: "OK",
    RunStatus.FAILED: "KO",
    RunStatus.RUNNING: "Running",
    RunStatus.CANCELLED: "Cancelled",
    None: "Pending",
}
_STATES = {
    400: "Bad_Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not_Found",
    405: "Method_Not_Allowed",
    409: "Conflict",
    412: "Precondition_Failed",
    413: "Request_Entity_Too_Large",
    429: "Too_Many_Requests",
    503: "Service_Unavailable",
}
Behavior = Literal["BLOCKING", "NOBLOCKING", "PAUSE", "FINALLY"]  # ProcessBehavior
_CLAUSE = re.compile(r"^(name)\s*=\s*'([^']*)'$|^(since)\s*>\s*'([^']*)'$")


class PreconditionFailed(BeatlessError):
    """A Vitam header is missing or wrong: Vitam answers 412."""

    code = "precondition_failed"


class MethodNotAllowed(BeatlessError):
    """A method the resource does not serve: Vitam's ``GenericExceptionMapper`` answers 405."""

    code = "method_not_allowed"


#: Statuses of this face's own errors (the domain's come from ``http_status``).
_FACE_STATUS: dict[type[BeatlessError], int] = {PreconditionFailed: 412, MethodNotAllowed: 405}


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


def vitam_error(error: BeatlessError) -> Response:
    """Vitam's error shape (``VitamError``), with its headers."""
    status = _FACE_STATUS.get(type(error)) or http_status(error)
    body = {
        "httpCode": status,
        "http_code": status,
        "code": error.code,
        "context": CONTEXT,
        "state": _STATES.get(status, "Internal_Server_Error"),
        "message": error.message,
        "description": error.message,
        "errors": [],
    }
    return _answer(body, status)


def _answer(body: Any, status: int = 200) -> Response:
    """Every answer of the face carries ``X-Request-Id`` and ``FullApiVersion`` (Vitam's
    ``StandardHeader`` traits)."""
    headers = {"X-Request-Id": _request_id(), "FullApiVersion": API_VERSION}
    return Response(status_code=status, body=body, headers=headers)


def _prefix() -> str:
    """The prefix the request came in by, for the links the face answers with."""
    path = str((bp.current_request.context or {}).get("resourcePath") or "")
    return WORKER_PREFIX if path.startswith(WORKER_PREFIX) else PREFIX


#: Each operation's view by (path, method), for ``X-Http-Method-Override``.
_VIEWS: dict[tuple[str, str], Any] = {}
_OVERRIDE = "X-Http-Method-Override"


def _overridden(path: str, method: str) -> Any:
    """The view ``X-Http-Method-Override`` turns this request into, or None. As Vitam's
    ``HttpMethodOverrideFilter``: GET and DELETE (any case) replace the method; PUT is a valid
    value (``VitamHttpHeader.METHOD_OVERRIDE``: get|put|delete) that changes nothing."""
    raw = (bp.current_request.headers or {}).get(_OVERRIDE.lower())
    if raw is None:
        return None
    wanted = str(raw).strip().upper()
    if wanted not in ("GET", "PUT", "DELETE"):
        raise InvalidRequest(_OVERRIDE, f"{str(raw)[:20]!r} must be GET, PUT or DELETE")
    if wanted in ("PUT", method):
        return None
    view = _VIEWS.get((path, wanted))
    if view is None:
        raise MethodNotAllowed(f"{wanted} is not a method of {_prefix()}{path}")
    return view


def _overridable(path: str, method: str, view: Any) -> Any:
    _VIEWS[(path, method)] = view

    @functools.wraps(view)
    def dispatch(**kwargs: Any) -> Any:
        return (_overridden(path, method) or view)(**kwargs)

    return dispatch


def _route(
    path: str,
    method: str,
    prefixes: tuple[str, ...] = (PREFIX, WORKER_PREFIX),
    worker: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Register the view at each prefix; ``worker`` overrides the documentation at
    ``/worker/v1`` (where Vitam's own shapes are documented)."""
    if kwargs.get("access") != "public":
        kwargs["query"] = (*kwargs.get("query", ()), *TENANT_HEADERS)
        kwargs["errors"] = (400, 404, 409, 412, 413, 422, 503)

    def decorator(view: Any) -> Any:
        dispatch = _overridable(path, method, view)
        for blueprint, prefix in BLUEPRINTS:
            if prefix not in prefixes:
                continue
            options = (
                {**kwargs, "id_suffix": "Worker" if len(prefixes) > 1 else "", **(worker or {})}
                if prefix == WORKER_PREFIX
                else kwargs
            )
            route(
                blueprint,
                path,
                method,
                face=FACE,
                prefix=prefix,
                render=vitam_error,
                error_model=models.VitamErrorOut,
                **options,
            )(dispatch)
        return view

    return decorator


def _unsupported(path: str, methods: tuple[str, ...]) -> None:
    """Answer the methods ``path`` does not serve in Vitam's shape (405), not Chalice's; an
    ``X-Http-Method-Override`` still turns them into the method it names."""

    def view(**kwargs: Any) -> Response:
        try:
            method = bp.current_request.method.upper()
            target = _overridden(path, method)
            if target is None:
                raise MethodNotAllowed(f"{method} is not a method of {_prefix()}{path}")
            return target(**kwargs)  # type: ignore[no-any-return]
        except (BeatlessError, *AWS_ERRORS) as error:
            response = answer_error(vitam_error, error)
            if isinstance(error, MethodNotAllowed):
                response.headers["Allow"] = allowed  # RFC 9110 §15.5.6: a 405 names them
            return response

    allowed = ", ".join(sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - set(methods)))

    view.__name__ = "unsupported_" + re.sub(r"\W+", "_", path).strip("_")
    for blueprint, _ in BLUEPRINTS:
        blueprint.route(path, methods=list(methods), content_types=CONTENT_TYPES)(view)


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


def task_out(run: Run) -> dict[str, Any]:
    from chalicelib import targets
    from chalicelib.execution import RETENTION

    state, task_status = STATE[run.status]
    data = run.data if isinstance(run.data, dict) else {}
    declared = data.get("results") or []
    actions = []
    for index, step in enumerate(run.steps or []):
        keys = declared[index] if index < len(declared) else None
        actions.append(
            {
                "action": step.get("task") or targets.label(step.get("target")),
                "arguments": step.get("kwargs", {}),
                "results": _results(step.get("result"), keys) if "result" in step else None,
                "status": ACTION_STATUS.get(step.get("status"), step.get("status")),
                "start_time": step.get("started_at"),
                "end_time": step.get("ended_at"),
            }
        )
    error = None
    if run.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
        error = models.VitamErrorOut(
            httpCode=500,
            http_code=500,
            code=run.exc or "TimedOut",
            context=CONTEXT,
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
    return models.TaskOut(
        id=run.run_id,
        type=str(data.get("Step") or run.task or "task"),
        state=state,
        task_status=task_status,
        start_date=format_instant(run.started_at) if run.started_at else None,
        end_date=format_instant(run.ended_at) if run.ended_at else None,
        expiration_date=format_instant(expires),
        result_link=f"{_prefix()}/tasks/{run.run_id}",
        error=error,
        actions=actions,
    ).model_dump()


def _attempt_error(attempt: Any) -> dict[str, Any]:
    """An earlier attempt's failure, as one of Vitam's nested ``errors``."""
    code, _, message = str(attempt.error).partition(": ")
    return {
        "httpCode": 500,
        "http_code": 500,
        "code": code,
        "context": CONTEXT,
        "state": attempt.outcome,
        "message": message or code,
        "description": f"attempt {int(attempt.number)}, ended {format_instant(attempt.ended_at)}",
    }


def _results(value: Any, keys: list[str] | None) -> Any:
    """An action's ``results``: the declared keys filled from a dict return value."""
    if keys and isinstance(value, dict):
        return {key: value.get(key) for key in keys}
    return value if isinstance(value, dict) else {"result": value}


@_route(
    "/status",
    "GET",
    (PREFIX,),
    summary="The worker's status",
    response=models.StatusOut,
    access="public",
    operation_id="getStatus",
)
def status() -> Response:
    from chalicelib.api.native import INSTANCE_ID, STARTED

    body = models.StatusOut(
        id=INSTANCE_ID,
        service=f"beatless {get_settings().version}",
        startDate=format_instant(STARTED),
        status="Active",
    )
    return _answer(body.model_dump())


@_route(
    "/status",
    "GET",
    (WORKER_PREFIX,),
    summary="The worker's status: 204, as ApplicationStatusResource.status",
    status=204,
    access="public",
    operation_id="getWorkerStatus",
)
def worker_status() -> Response:
    return _answer(None, 204)


#: ``StatusCode`` in order: ``statusMeter`` counts one per level.
STATUS_CODES = ("UNKNOWN", "STARTED", "ALREADY_EXECUTED", "OK", "WARNING", "KO", "FATAL")
#: A step's (or run's) beatless status as a Vitam ``StatusCode``.
STATUS_CODE = {
    RunStatus.SUCCEEDED: "OK",
    RunStatus.FAILED: "KO",
    RunStatus.CANCELLED: "KO",
    RunStatus.TIMED_OUT: "FATAL",
    RunStatus.RUNNING: "STARTED",
    RunStatus.SKIPPED: "UNKNOWN",
    RunStatus.QUEUED: "UNKNOWN",
}


def _item_status(item_id: str, code: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
    meter = [0] * len(STATUS_CODES)
    meter[STATUS_CODES.index(code)] = 1
    return {
        "itemId": item_id,
        "message": message,
        "globalStatus": code,
        "statusMeter": meter,
        "data": data,
        "itemsStatus": {},
        "subTaskStatus": {},
        "globalState": "COMPLETED",
        "globalOutcomeDetailSubcode": None,
        "lifecycleEnable": True,
    }


def item_status(run: Run) -> dict[str, Any]:
    """A done run as ``WorkerImpl.run`` reports a step: ``itemId`` the step's name, one
    ``itemsStatus`` entry per action that ran (keyed by ``actionKey``, as Vitam keys them by
    handler), the step's ``globalStatus`` the worst of them, ``statusMeter`` their sum."""
    data = run.data if isinstance(run.data, dict) else {}
    items: dict[str, dict[str, Any]] = {}
    for step in run.steps or []:
        if step.get("status") in (None, RunStatus.QUEUED):
            continue  # never started: Vitam leaves actions after a blocking KO out too
        key = str(step.get("task"))
        code = STATUS_CODE.get(step.get("status"), "UNKNOWN")
        outcome = {"result": step["result"]} if "result" in step else {}
        if code in ("KO", "FATAL") and run.error:
            outcome = {"exc": run.exc, "error": run.error}
        item = _item_status(key, code, run.error or "" if outcome.get("error") else "", outcome)
        if key in items:  # the same actionKey twice: Vitam adds the two up under one key
            seen = items[key]
            meters = zip(seen["statusMeter"], item["statusMeter"], strict=True)
            seen["statusMeter"] = [a + b for a, b in meters]
            worst = max(seen["globalStatus"], code, key=STATUS_CODES.index)
            seen.update(globalStatus=worst, data={**seen["data"], **outcome})
        else:
            items[key] = item
    codes = [i["globalStatus"] for i in items.values()] + [STATUS_CODE.get(run.status, "UNKNOWN")]
    body = _item_status(
        str(data.get("Step") or run.task),
        max(codes, key=STATUS_CODES.index),
        run.error or run.reason or "",
        {"taskId": run.run_id},
    )
    meter = [0] * len(STATUS_CODES)
    for item in items.values():
        meter = [a + b for a, b in zip(meter, item["statusMeter"], strict=True)]
    body["statusMeter"] = meter
    body["itemsStatus"] = items
    return models.ItemStatusOut.model_validate(body).model_dump()


def retry_later(run: Run) -> dict[str, Any]:
    """``WorkerAccessRequest``: the body of Vitam's 461, naming the task still going."""
    return {"accessRequestId": run.run_id, "strategyId": "beatless", "offerId": None}


#: ``CustomVitamHttpStatusCode.UNAVAILABLE_ASYNC_DATA_RETRY_LATER``.
RETRY_LATER = 461


@_route(
    "/tasks",
    "POST",
    summary="Submit a step",
    limited=True,
    request=models.StepIn,
    response=models.TaskOut,
    status=201,
    worker={
        "summary": "Run a step (Vitam's DescriptionStep) and answer its ItemStatus",
        "request": models.DescriptionStepIn,
        "response": models.ItemStatusOut,
        "status": 200,
    },
    operation_id="submitTask",
    idempotent=True,
)
def submit() -> Response:
    """The seed's draft body → the async task (201); Vitam's ``DescriptionStep`` → its
    ``ItemStatus`` (200) once done, or 461 with the task to poll if it outlasts the bound."""
    me = _caller()
    raw = _json_object()
    if "step" in raw or "workParams" in raw:
        return _submit_description_step(me, raw)
    body = parse_body(bp, models.StepIn)
    steps = _steps([(a.action, a.arguments) for a in body.actions], "actions.{}.action")
    data = {
        "Step": body.Step,
        "otherInfo": body.otherInfo,
        "results": [sorted(a.results) if a.results else None for a in body.actions],
    }
    run = services.run_service().submit(me.tenant, steps, data=data, created_by=me.identity)
    return _answer(task_out(run), 201)


def _json_object() -> dict[str, Any]:
    """The body as a JSON object; an empty body is a 400, as ``WorkerResource`` answers it."""
    parse_body(bp, models.QueryIn)  # size, JSON and object checks, each a 400 naming the body
    raw = json.loads(bp.current_request.raw_body or b"{}")
    if not raw:
        raise InvalidRequest("body", "must be a step description")
    return raw  # type: ignore[no-any-return]


def _steps(actions: list[tuple[str, dict[str, Any]]], label: str) -> list[dict[str, Any]]:
    """The actions as beatless steps; an unknown task is a 400 naming the action's field."""
    from chalicelib.runs import steps_of
    from chalicelib.tasks import registry

    try:
        return steps_of(
            registry,
            None,
            [{"task": name, "kwargs": kwargs} for name, kwargs in actions],
            None,
            None,
        )
    except InvalidRequest as error:
        index = error.field.split(".")[1] if error.field.startswith("steps.") else "0"
        raise InvalidRequest(label.format(index), error.rule) from None


def _submit_description_step(me: Principal, raw: dict[str, Any]) -> Response:
    from pydantic import ValidationError  # with the model: at a request, not at import

    try:
        body = models.DescriptionStepIn.model_validate(raw)
    except ValidationError as error:
        raise validation_error(error) from None
    step = body.step
    steps = _steps(
        [(a.action.actionKey, {}) for a in step.actions], "step.actions.{}.action.actionKey"
    )
    data = {
        "Step": step.stepName,
        "workParams": body.workParams,
        "behaviors": [a.action.behavior for a in step.actions],
        "results": [None] * len(steps),
    }
    run = submit_and_wait(
        me.tenant,
        steps,
        wait_seconds=get_settings().vitam_wait_seconds,
        data=data,
        created_by=me.identity,
    )
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        response = _answer([retry_later(run)], RETRY_LATER)
        response.headers["Location"] = f"{_prefix()}/tasks/{run.run_id}"
        return response
    return _answer(item_status(run))


@_route("/tasks/{id_async}", "GET", summary="A task", response=models.TaskOut)
def get_task(id_async: str) -> Response:
    me = _caller()
    return _answer(task_out(services.run_service().get(me.tenant, id_async)))


@_route(
    "/tasks/{id_async}",
    "PUT",
    summary="Cancel a task at its next action",
    response=models.TaskOut,
    owned=True,
)
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
        body = parse_body(bp, models.QueryIn)
        return body.query
    return query_value(bp, "query") or ""


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
        tenant, limit=limit, cursor=cursor, statuses=(RunStatus.QUEUED, RunStatus.RUNNING)
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
    response=models.TaskList,
    query=(QUERY, NEXT),
)
def list_tasks() -> Response:
    me = _caller()
    text = _query()
    limit = 100
    offset_cursor = query_value(bp, "next")
    ids, cursor = _in_progress(me.tenant, text, limit, offset_cursor)
    body = models.TaskList(
        hits=models.Hits(
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
    response=models.TaskList,
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
    body = models.TaskList(
        hits=models.Hits(
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


_unsupported("/status", ("POST", "PUT", "PATCH", "DELETE"))
_unsupported("/tasks", ("PATCH", "DELETE"))
_unsupported("/tasks/{id_async}", ("POST", "PATCH", "DELETE"))
