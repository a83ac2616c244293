"""The udata workers face, mounted at ``/api/1/workers``: udata's shapes over the same service.

Source: ``shared/seeds/udata-workers-api.txt`` and ``shared/reference/udata-workers.md``.
Deliberate differences (stricter, clearer) are listed in ``docs/udata.md``.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import json
import re
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from chalice import Blueprint, Response

from chalicelib import services
from chalicelib.api import masks
from chalicelib.api.errors import http_status
from chalicelib.api.lazy import Models
from chalicelib.api.routing import QueryParam, parse_body, principal, route
from chalicelib.errors import BeatlessError, InvalidRequest, NotFound, Unauthorized
from chalicelib.records import Job, Run
from chalicelib.vocabulary import RunStatus

# The core modules (jobs, runs, execution, targets, the task registry) are imported where a
# request uses them, once its service is built (chalicelib.services imports them then): importing
# the face does not load them (the API's cold start, issue 19).

#: The face's pydantic models, loaded by the first request that uses one (cold start).
models = Models("chalicelib.api.udata_models")

bp = Blueprint(__name__)
PREFIX = "/api/1/workers"
FACE = "udata"
NESTED = frozenset({"crontab", "interval"})
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
CELERY_STATE = {
    RunStatus.QUEUED: "PENDING",
    RunStatus.RUNNING: "STARTED",
    RunStatus.SUCCEEDED: "SUCCESS",
    RunStatus.FAILED: "FAILURE",
    RunStatus.TIMED_OUT: "FAILURE",
    RunStatus.CANCELLED: "REVOKED",
    RunStatus.SKIPPED: "REVOKED",
}


#: The field of an error about the form as a whole (udata's ``api.abort(400, message)``).
FORM_WIDE = "__all__"
#: What flask-restx answers for ``api.abort(401)`` (werkzeug's description): udata's answer
#: when no key is sent at all.
NO_CREDENTIALS = (
    "The server could not verify that you are authorized to access the URL requested. You either"
    " supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand"
    " how to supply the credentials required."
)


def udata_error(error: BeatlessError) -> Response:
    """udata's error bodies: ``{"message"}``; for fields, wtforms' ``form.errors`` too: a list of
    messages per field, nested under a form field (``{"interval": {"every": [...]}}``)."""
    status = http_status(error)
    if isinstance(error, Unauthorized):  # udata's authentify: an unusable key is "Invalid"
        no_key = "required" in error.message  # the middleware's "an API key is required"
        return Response(
            status_code=status, body={"message": NO_CREDENTIALS if no_key else "Invalid API token"}
        )
    if isinstance(error, InvalidRequest) and error.field == FORM_WIDE:
        return Response(status_code=status, body={"message": error.rule})
    body: dict[str, Any] = {"message": error.message}
    if isinstance(error, InvalidRequest):
        problems = error.details.get("errors") or [{"field": error.field, "rule": error.rule}]
        body["errors"] = field_errors(problems)
    return Response(status_code=status, body=body)


def field_errors(problems: list[dict[str, str]]) -> dict[str, Any]:
    """``[{"field": "interval.every", "rule": r}]`` as ``{"interval": {"every": [r]}}``."""
    errors: dict[str, Any] = {}
    for problem in problems:
        *parents, leaf = str(problem["field"]).split(".")
        node = errors
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # "crontab" and "crontab.minute" both: keep both
                child = node[part] = {FORM_WIDE: child}
            node = child
        existing = node.setdefault(leaf, [])
        if isinstance(existing, dict):
            existing.setdefault(FORM_WIDE, []).append(problem["rule"])
        else:
            existing.append(problem["rule"])
    return errors


#: udata reads ``?lang=`` on every API call (``set_api_language``) and its clients send it: taken,
#: and without effect here (answers are in English, as udata's default language).
LANG = QueryParam("lang", {"type": "string"}, "accepted; answers are in English")
_route = functools.partial(
    route,
    bp,
    face=FACE,
    prefix=PREFIX,
    access="admin",
    render=udata_error,
    error_model=models.UdataErrorOut,
    query=(LANG,),
)


def job_out(job: Job) -> dict[str, Any]:
    from chalicelib import targets
    from chalicelib.jobs import spec_of

    inputs = job.schedule_input or {}
    crontab = inputs.get("crontab")
    interval = inputs.get("interval")
    return models.UdataJobOut(
        id=job.job_id,
        name=job.name,
        description=job.description or None,
        task=job.task or targets.label(job.target),
        crontab={f: str(crontab.get(f, "*")) for f in CRONTAB_FIELDS}
        if crontab is not None
        else None,
        interval=interval,
        args=job.args or [],
        kwargs=job.kwargs or {},
        schedule=spec_of(job).render(),
        last_run_at=job.last_run_at.astimezone(UTC).isoformat() if job.last_run_at else None,
        last_run_id=job.last_run_id,
        enabled=bool(job.enabled),
    ).model_dump()


def _masked(body: Any) -> Any:
    """Apply the request's ``X-Fields`` mask to one job or to each job of a list."""
    header = (bp.current_request.headers or {}).get("x-fields")
    if not header:
        return body
    try:
        mask = masks.parse(header)
        if isinstance(body, list):
            return [masks.apply(mask, item, NESTED) for item in body]
        return masks.apply(mask, body, NESTED)
    except masks.MaskError as error:
        raise InvalidRequest("X-Fields", str(error)) from None


def _schedule_values(raw: dict[str, Any], body: models.UdataJobIn) -> dict[str, Any]:
    """crontab or interval as the job service takes them (missing crontab fields are ``*``);
    both is udata's form error, on create and update alike."""
    if "crontab" in raw and "interval" in raw:
        raise InvalidRequest(FORM_WIDE, "Cannot define both interval and crontab schedule")
    if "crontab" in raw:
        crontab = body.crontab or models.UdataCrontab()
        return {"crontab": crontab.model_dump()}
    if body.interval is not None:
        return {"interval": body.interval.model_dump()}
    return {}


def _raw() -> dict[str, Any]:
    """The body's keys as sent (udata tests key presence: ``"crontab": null`` counts)."""
    raw = json.loads(bp.current_request.raw_body or b"{}")  # parse_body has validated it
    return raw if isinstance(raw, dict) else {}


@_route("/jobs", "GET", summary="All jobs", response=models.UdataJobList)
def list_jobs() -> Any:
    service = services.job_service()
    items, cursor = [], None
    while True:  # udata answers the whole list: page through the tenant's Query
        page = service.list(principal(bp).tenant, limit=100, cursor=cursor)
        items += [job_out(job) for job in page.items]
        if page.cursor is None:
            return _masked(items)
        cursor = page.cursor


@_route(
    "/jobs",
    "POST",
    summary="Create a job",
    limited=True,
    request=models.UdataJobIn,
    response=models.UdataJobOut,
    status=201,
    idempotent=True,
)
def create_job() -> Response:
    body = parse_body(bp, models.UdataJobIn)
    schedule = _schedule_values(_raw(), body)
    if not schedule:
        raise InvalidRequest(FORM_WIDE, "Must defined either interval or crontab schedule.")
    if body.name is None:
        raise InvalidRequest("name", "This field is required.")
    if body.task is None:
        raise InvalidRequest("task", "Field is required")  # mongoengine's words, as udata's
    values = {
        "name": body.name,
        "description": body.description or "",
        "task": body.task,
        "enabled": bool(body.enabled),  # udata creates jobs disabled unless told
        "args": body.args or [],
        "kwargs": body.kwargs or {},
        **schedule,
    }
    me = principal(bp)
    job = services.job_service().create(me.tenant, values, created_by=me.identity)
    return Response(status_code=201, body=_masked(job_out(job)))


@_route(
    "/jobs/schedulables",
    "GET",
    summary="Task names a job can run",
    response=models.Schedulables,
    operation_id="listSchedulables",
)
def schedulables() -> list[str]:
    from chalicelib.tasks import registry

    return [t.name for t in registry.all() if t.schedulable]


@_route("/jobs/{job_id}", "GET", summary="A job", response=models.UdataJobOut)
def get_job(job_id: str) -> Any:
    return _masked(job_out(_job(job_id)))


@_route(
    "/jobs/{job_id}",
    "PUT",
    summary="Update a job",
    request=models.UdataJobIn,
    response=models.UdataJobOut,
    body_optional=True,
)
def update_job(job_id: str) -> Any:
    body = parse_body(bp, models.UdataJobIn)
    raw = _raw()
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "name": body.name,
            "description": body.description,
            "task": body.task,
            "enabled": body.enabled,
            "args": body.args,
            "kwargs": body.kwargs,
        }.items()
        if v is not None
    }
    changes.update(_schedule_values(raw, body))  # omitted: the job keeps its schedule
    with _udata_not_found(job_id):
        job = services.job_service().patch(
            principal(bp).tenant, job_id, changes, actor=principal(bp)
        )
    return _masked(job_out(job))


@_route("/jobs/{job_id}", "DELETE", summary="Delete a job", status=204)
def delete_job(job_id: str) -> Response:
    with _udata_not_found(job_id):
        services.job_service().delete(principal(bp).tenant, job_id, actor=principal(bp))
    return Response(status_code=204, body="")


@_route(
    "/tasks/{run_id}",
    "GET",
    summary="A task's Celery-style status",
    response=models.UdataTaskOut,
    operation_id="getTask",
)
def task_status(run_id: str) -> dict[str, Any]:
    run = services.run_service().get(principal(bp).tenant, run_id)
    return task_out(run)


def task_out(run: Run) -> dict[str, Any]:
    status = CELERY_STATE[run.status]
    if run.status == RunStatus.QUEUED and int(run.attempt or 1) > 1:
        status = "RETRY"
    result: str | None = None
    failed = status in ("FAILURE", "RETRY")
    exc = celery_exc(run.exc, run.traceback) if failed else None
    if status == "SUCCESS":
        result = str(run.result)
    elif failed and run.exc:
        result = f"{run.exc}({run.error!r})"  # safe_repr(exception): the bare class name
    elif run.status == RunStatus.TIMED_OUT:  # no exception of its own: say why, as Celery would
        exc, result = TIME_LIMIT, f"TimeLimitExceeded({run.reason!r})"
    elif status == "REVOKED":
        result = run.reason
    return models.UdataTaskOut(
        id=run.run_id,
        status=status,
        result=result,
        exc=exc,
        traceback=run.traceback if failed else None,
    ).model_dump()


#: Celery's time-limit exception, as ``get_full_cls_name`` names it.
TIME_LIMIT = "celery.exceptions.TimeLimitExceeded"


def celery_exc(exc: str | None, traceback: str | None) -> str | None:
    """The exception as Celery's ``get_full_cls_name`` names it, ``module.Class``. A run records
    the bare class name; its traceback's exception line carries the module (Python omits it
    for builtins, which Celery names ``builtins.X``). Without either, the bare name."""
    if not exc:
        return exc
    line = re.compile(rf"^((?:[A-Za-z_]\w*\.)*){re.escape(exc)}(?::|$)")
    for text in reversed((traceback or "").splitlines()):
        found = line.match(text)
        if found:
            if found.group(1):
                return found.group(1) + exc
            break
    builtin = getattr(builtins, exc, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return f"builtins.{exc}"
    return exc


def _job(job_id: str) -> Job:
    with _udata_not_found(job_id):
        return services.job_service().get(principal(bp).tenant, job_id)


@contextlib.contextmanager
def _udata_not_found(job_id: str) -> Iterator[None]:
    """A missing job in udata's words (its message, not the service's)."""
    try:
        yield
    except NotFound:
        raise NotFound("Not Found: the job does not exist", {"id": job_id[:100]}) from None
