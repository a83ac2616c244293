"""The Dapr jobs face, at ``/v1.0-alpha1/jobs/{name}`` and ``/v1.0/jobs/{name}``.

Source: ``shared/seeds/dapr-jobs-api.md`` and ``shared/reference/dapr-jobs.md``. A Dapr job is a
beatless job named in the path, running the built-in ``dapr.deliver`` task (which POSTs its data
to the tenant's app, see ``chalicelib/tasks/dapr.py``). Deliberate differences: ``docs/dapr.md``.
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import Any

from chalice import Blueprint, Response

from chalicelib import services
from chalicelib.api.errors import http_status
from chalicelib.api.lazy import Models
from chalicelib.api.names import name_rule
from chalicelib.api.routing import parse_body, principal, route
from chalicelib.errors import BeatlessError, InvalidRequest, NotFound, Unprocessable
from chalicelib.records import Job

#: The face's pydantic models, loaded by the first request that uses one (cold start).
models = Models("chalicelib.api.dapr_models")

FACE = "dapr"
PREFIXES = ("/v1.0-alpha1/jobs", "/v1.0/jobs")
TASK = "dapr.deliver"
#: Dapr's default when no failure policy is sent: 3 retries, 1 s apart.
DEFAULT_POLICY = {"constant": {"interval": "1s", "maxRetries": 3}}
#: Codes of errors upstream names itself (``pkg/api/errors``), with its exact messages.
SCHEDULE_EMPTY = "DAPR_SCHEDULER_SCHEDULE_EMPTY"  # "Schedule is empty"
NAME_EMPTY = "DAPR_SCHEDULER_JOB_NAME_EMPTY"  # "Name is empty"
NAME_IN_BODY = "DAPR_SCHEDULER_JOB_NAME"  # "Set the job name in the url only"
#: Every other failure of an operation: upstream's code and message prefix for it.
_OPERATIONS = {
    "schedule": ("DAPR_SCHEDULER_SCHEDULE_JOB", "failed to schedule job due to: "),
    "get": ("DAPR_SCHEDULER_GET_JOB", "failed to get job due to: "),
    "delete": ("DAPR_SCHEDULER_DELETE_JOB", "failed to delete job due to: "),
}
_ERROR_CODES = {401: "ERR_UNAUTHORIZED", 403: "ERR_FORBIDDEN", 413: "ERR_MALFORMED_REQUEST"}
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def dapr_invalid(field: str, rule: str, code: str) -> InvalidRequest:
    """A 400 upstream answers with its own code and message (``rule``)."""
    return InvalidRequest(field, rule, {"dapr_code": code})


def dapr_error(error: BeatlessError, operation: str = "schedule") -> Response:
    """Dapr's error body; a schedule Dapr cannot run either (422 natively) is its 400. The
    message is the rule alone (no field prefix), after upstream's "failed to ... due to: "."""
    status = 400 if isinstance(error, Unprocessable) else http_status(error)
    reason = error.rule if isinstance(error, InvalidRequest) else error.message
    op_code, prefix = _OPERATIONS[operation]
    code = error.details.get("dapr_code")
    if code is None and getattr(error, "field", "") == "body":
        code = "ERR_MALFORMED_REQUEST"
    if code is None:
        code = _ERROR_CODES.get(status)
    if code is None:
        code, reason = op_code, prefix + reason
    field = getattr(error, "field", None)
    metadata = {"field": field} if field else {}  # the field the message is about
    details = [{"@type": ERROR_INFO, "reason": code, "domain": "dapr.io", "metadata": metadata}]
    return Response(
        status_code=status,
        body={"errorCode": code, "message": reason, "details": details},
        headers={"Content-Type": "application/json"},
    )


def retry_of(policy: models.FailurePolicy | None) -> dict[str, Any]:
    """A Dapr failure policy as a beatless retry policy (constant: multiplier 1)."""
    if policy is not None and policy.drop is not None and policy.constant is None:
        return {"max_attempts": 1, "initial_seconds": 0, "multiplier": 1, "max_seconds": 900}
    constant = policy.constant if policy is not None and policy.constant else None
    interval = float(constant.interval[:-1]) if constant else 1.0
    retries = constant.max_retries if constant and constant.max_retries is not None else 3
    return {
        "max_attempts": retries + 1,
        "initial_seconds": min(interval, 900.0),
        "multiplier": 1,
        "max_seconds": 900,
    }


def policy_of(retry: dict[str, Any] | None) -> dict[str, Any]:
    if not retry:
        return DEFAULT_POLICY
    if int(retry.get("max_attempts", 1)) <= 1:
        return {"drop": {}}
    seconds = float(retry.get("initial_seconds", 1))
    interval = f"{int(seconds)}s" if seconds.is_integer() else f"{seconds}s"
    return {"constant": {"interval": interval, "maxRetries": int(retry["max_attempts"]) - 1}}


def job_out(job: Job) -> dict[str, Any]:
    inputs = job.schedule_input or {}
    body = models.DaprJobOut(
        name=job.name,
        schedule=inputs.get("schedule"),
        repeats=inputs.get("repeats"),
        dueTime=inputs.get("due_time"),
        ttl=inputs.get("ttl"),
        data=job.data,
        failurePolicy=policy_of(job.retry),
    )
    return body.model_dump(exclude_none=True)  # no data: no "data", as protojson


def _values(name: str, job: models.DaprJob) -> dict[str, Any]:
    if job.schedule is None and job.due_time is None:
        raise dapr_invalid("schedule", "Schedule is empty", SCHEDULE_EMPTY)
    if job.repeats is not None and job.repeats > 1 and job.schedule is None:
        raise InvalidRequest("repeats", "job must have a schedule to repeat")
    if job.repeats == 0:
        raise InvalidRequest("repeats", "defined repeats must be greater than 0")
    if job.ttl is not None and job.schedule is None:
        raise InvalidRequest("ttl", "job must have a schedule to have a ttl")
    return {
        "name": name,
        "task": TASK,
        "kwargs": {"name": name},
        "data": job.data,
        "enabled": True,
        "schedule": job.schedule,
        "due_time": job.due_time,
        "ttl": job.ttl,
        "repeats": job.repeats,
        "retry": retry_of(job.failure_policy),
    }


def make_blueprint(prefix: str) -> Blueprint:
    bp = Blueprint(f"{__name__}{prefix}")

    def _route(method: str, operation: str, **kwargs: Any) -> Any:
        return route(
            bp,
            "/{name}",
            method,
            face=FACE,
            prefix=prefix,
            render=functools.partial(dapr_error, operation=operation),
            error_model=models.DaprErrorOut,
            errors=(400, 404, 409, 413, 503),  # a schedule Dapr cannot run (422) is its 400
            id_suffix="Alpha1" if "alpha1" in prefix else "",
            **kwargs,
        )

    @_route(
        "POST",
        "schedule",
        summary="Schedule a job",
        limited=True,
        request=models.DaprJobIn,
        status=204,
        owned=True,
        idempotent=True,
    )
    def schedule_job(name: str) -> Response:
        name = _name(name)
        body = parse_body(bp, models.DaprJobIn)
        if body.name is not None or (body.job is not None and body.job.name is not None):
            raise dapr_invalid("name", "Set the job name in the url only", NAME_IN_BODY)
        job = body.unwrapped()
        services.job_service().put_named(
            principal(bp).tenant,
            name,
            _values(name, job),
            overwrite=job.overwrite,
            actor=principal(bp),
        )
        return Response(status_code=204, body="")

    @_route("GET", "get", summary="Get a job", response=models.DaprJobOut)
    def get_job(name: str) -> dict[str, Any]:
        name = _name(name)
        job = services.job_service().find_by_name(principal(bp).tenant, name)
        if job is None or job.finished_at is not None:  # used up: gone, as in Dapr
            raise NotFound("job not found")
        return job_out(job)

    @_route("DELETE", "delete", summary="Delete a job", status=204, owned=True)
    def delete_job(name: str) -> Response:
        services.job_service().delete_named(principal(bp).tenant, _name(name), principal(bp))
        return Response(status_code=204, body="")  # a missing job is 204 too, as in Dapr

    return bp


def _name(raw: str) -> str:
    """The job name in the path: the native face's rules (``name_rule``), and not ``.``/``..``."""
    name = urllib.parse.unquote(raw)
    if not name.strip():
        raise dapr_invalid("name", "Name is empty", NAME_EMPTY)
    if name in (".", ".."):
        raise InvalidRequest("name", "must not be . or .. (a path segment)")
    if rule := name_rule(name):
        raise InvalidRequest("name", rule)
    return name


BLUEPRINTS = [(make_blueprint(prefix), prefix) for prefix in PREFIXES]
