"""The native face, mounted at ``/v1``: parse, call the service, shape the answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import services
from chalicelib.api.lazy import Models
from chalicelib.api.routing import (
    QueryParam,
    parse_body,
    principal,
    query_bool,
    query_instant,
    query_int,
    query_raw,
    query_value,
    route,
)
from chalicelib.auth import Principal
from chalicelib.errors import InvalidRequest
from chalicelib.records import ApiKey, Job, Run
from chalicelib.schedules.durations import format_instant, parse_instant
from chalicelib.schedules.errors import ScheduleError
from chalicelib.settings import get_settings
from chalicelib.vocabulary import RunStatus

# The core modules (jobs, runs, schedules, the task registry) are imported where a request uses
# them, once its service is built (chalicelib.services imports them then): importing the face
# does not load them (the API's cold start, issue 19).

models = Models("chalicelib.api.models")  # loaded by the first request that uses one

bp = Blueprint(__name__)
PREFIX = "/v1"
FACE = "native"
INSTANCE_ID = uuid.uuid4().hex
STARTED = datetime.now(UTC)
#: The largest page the job and run lists answer (``limit``).
MAX_PAGE = 100


def me() -> Principal:
    """The caller (set by the authentication middleware)."""
    return principal(bp)


def _route(path: str, method: str, **kwargs: Any) -> Any:
    return route(bp, path, method, face=FACE, prefix=PREFIX, **kwargs)


def job_out(job: Job) -> dict[str, Any]:
    """A job as the native API shows it."""
    from chalicelib import schedules
    from chalicelib.jobs import spec_of

    spec = spec_of(job)
    inputs = job.schedule_input or {}
    now = datetime.now(UTC)
    body = models.JobOut(
        id=job.job_id,
        name=job.name,
        description=job.description or "",
        task=job.task,
        target=job.target,
        args=job.args or [],
        kwargs=job.kwargs or {},
        data=job.data,
        enabled=job.enabled,
        queue=job.queue,
        overlap=job.overlap,
        crontab=inputs.get("crontab"),
        interval=inputs.get("interval"),
        due_time=inputs.get("due_time"),
        schedule=inputs["schedule"] if "schedule" in inputs else spec.render(),
        schedule_description=schedules.describe(spec),
        timezone=spec.timezone,
        start_at=inputs.get("start_at"),
        end_at=inputs.get("end_at") or (_instant(spec.end_at) if "ttl" in inputs else None),
        ttl=inputs.get("ttl"),
        repeats=spec.repeats,
        spec=job.spec,
        expressions=[p.expression for p in schedules.plan(spec, now)],
        path=schedules.path(spec),
        next_run_at=_instant(job.next_run_at),
        last_run_at=_instant(job.last_run_at),
        last_run_id=job.last_run_id,
        total_run_count=int(job.total_run_count or 0),
        retry=job.retry,
        timeout_seconds=int(job.timeout_seconds or 300),
        finished_at=_instant(job.finished_at),
        created_at=format_instant(job.created_at),
        updated_at=format_instant(job.updated_at),
        version=int(job.version or 0),
    )
    return body.model_dump(mode="json")


def _instant(value: datetime | None) -> str | None:
    return format_instant(value) if value else None


@_route(
    "/status",
    "GET",
    summary="Service status (no key needed)",
    response=models.StatusOut,
    access="public",
    operation_id="getStatus",
)
def status() -> dict[str, Any]:
    return models.StatusOut(
        id=INSTANCE_ID,
        service="beatless",
        startDate=format_instant(STARTED),
        status="Active",
        version=get_settings().version,
    ).model_dump()


@_route(
    "/tasks/registered",
    "GET",
    summary="Registered task names",
    response=models.TaskList,
    operation_id="listRegisteredTasks",
)
def registered_tasks() -> dict[str, Any]:
    from chalicelib.tasks import registry

    items = [
        models.TaskOut(name=t.name, queue=t.queue, doc=t.doc, schedulable=t.schedulable)
        for t in registry.all()
    ]
    return models.TaskList(items=items).model_dump()


@_route(
    "/jobs",
    "POST",
    summary="Create a job",
    limited=True,
    request=models.JobIn,
    response=models.JobOut,
    status=201,
    idempotent=True,
)
def create_job() -> Response:
    body = parse_body(bp, models.JobIn)
    job = services.job_service().create(me().tenant, body.values(), created_by=me().identity)
    return Response(
        status_code=201, body=job_out(job), headers={"Location": f"{PREFIX}/jobs/{job.job_id}"}
    )


@_route(
    "/jobs",
    "GET",
    summary="List jobs, oldest first",
    response=models.JobList,
    query=(
        QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}),
        QueryParam("cursor", {"type": "string"}, "the cursor of the previous page"),
        QueryParam("enabled", {"type": "boolean"}),
        QueryParam("task", {"type": "string"}),
        QueryParam("name", {"type": "string"}, "jobs whose name starts with this (case-sensitive)"),
    ),
)
def list_jobs() -> dict[str, Any]:
    page = services.job_service().list(
        me().tenant,
        limit=query_int(bp, "limit", 50, 1, MAX_PAGE),
        cursor=query_value(bp, "cursor"),
        enabled=query_bool(bp, "enabled"),
        task=query_value(bp, "task"),
        name_prefix=query_value(bp, "name"),
    )
    return {"items": [job_out(job) for job in page.items], "cursor": page.cursor}


@_route("/jobs/{job_id}", "GET", summary="Get a job", response=models.JobOut)
def get_job(job_id: str) -> dict[str, Any]:
    return job_out(services.job_service().get(me().tenant, job_id))


@_route(
    "/jobs/{job_id}",
    "PUT",
    summary="Replace a job",
    request=models.JobIn,
    response=models.JobOut,
    owned=True,
)
def replace_job(job_id: str) -> dict[str, Any]:
    body = parse_body(bp, models.JobIn)
    job = services.job_service().replace(
        me().tenant, job_id, body.values(), version=_version(body), actor=me()
    )
    return job_out(job)


@_route(
    "/jobs/{job_id}",
    "PATCH",
    summary="Change some fields of a job",
    request=models.JobPatch,
    response=models.JobOut,
    owned=True,
    body_optional=True,
)
def patch_job(job_id: str) -> dict[str, Any]:
    body = parse_body(bp, models.JobPatch)
    job = services.job_service().patch(
        me().tenant, job_id, body.changes(), version=_version(body), actor=me()
    )
    return job_out(job)


@_route(
    "/jobs/{job_id}", "DELETE", summary="Delete a job and its schedules", status=204, owned=True
)
def delete_job(job_id: str) -> Response:
    services.job_service().delete(me().tenant, job_id, actor=me())
    return Response(status_code=204, body="")


@_route(
    "/jobs/{job_id}/pause",
    "POST",
    summary="Pause (schedule DISABLED)",
    response=models.JobOut,
    owned=True,
)
def pause_job(job_id: str) -> dict[str, Any]:
    return job_out(services.job_service().set_enabled(me().tenant, job_id, False, actor=me()))


@_route(
    "/jobs/{job_id}/resume",
    "POST",
    summary="Resume (schedule ENABLED)",
    response=models.JobOut,
    owned=True,
)
def resume_job(job_id: str) -> dict[str, Any]:
    return job_out(services.job_service().set_enabled(me().tenant, job_id, True, actor=me()))


@_route(
    "/schedules/preview",
    "POST",
    summary="What a schedule will do: expressions, next fire times, description",
    request=models.PreviewIn,
    response=models.PreviewOut,
)
def preview_schedule() -> dict[str, Any]:
    body = parse_body(bp, models.PreviewIn)
    result = services.job_service().preview(body.schedule_values(), body.count)
    result["next"] = [format_instant(t) for t in result["next"]]
    return models.PreviewOut(**result).model_dump()


def run_out(run: Run) -> dict[str, Any]:
    """A run as the native API shows it."""
    return models.RunOut(
        id=run.run_id,
        job_id=run.job_id,
        task=run.task,
        target=(run.steps or [{}])[0].get("target"),
        steps=run.steps or [],
        data=run.data,
        status=run.status,
        attempt=int(run.attempt or 1),
        queue=run.queue,
        trigger=run.trigger,
        scheduled_time=_instant(run.scheduled_time),
        queued_at=_instant(run.queued_at),
        started_at=_instant(run.started_at),
        ended_at=_instant(run.ended_at),
        retry_at=_instant(run.retry_at),
        result=run.result,
        exc=run.exc,
        error=run.error,
        traceback=run.traceback,
        reason=run.reason,
        cancel_requested=bool(run.cancel_requested),
        attempts=[
            models.AttemptOut(
                number=int(a.number),
                started_at=_instant(a.started_at),
                ended_at=format_instant(a.ended_at),
                outcome=a.outcome,
                error=a.error,
            )
            for a in run.attempts or []
        ],
    ).model_dump(mode="json")


RUN_FILTERS = (
    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}),
    QueryParam("cursor", {"type": "string"}, "the cursor of the previous page"),
    QueryParam("status", {"type": "string", "enum": list(RunStatus)}),
    QueryParam("task", {"type": "string"}),
    QueryParam("since", {"type": "string", "format": "date-time"}, "queued at or after (RFC 3339)"),
    QueryParam("until", {"type": "string", "format": "date-time"}, "queued before (RFC 3339)"),
)


def _run_filters() -> dict[str, Any]:
    return {
        "limit": query_int(bp, "limit", 50, 1, MAX_PAGE),
        "cursor": query_value(bp, "cursor"),
        "status": query_raw(bp, "status"),  # an enum: ?status= is not one of its values
        "task": query_value(bp, "task"),
        "since": query_instant(bp, "since"),
        "until": query_instant(bp, "until"),
    }


def _run_page(page: Any) -> dict[str, Any]:
    return {"items": [run_out(run) for run in page.items], "cursor": page.cursor}


@_route(
    "/jobs/{job_id}/trigger",
    "POST",
    summary="Run a job now (its overlap policy applies)",
    limited=True,
    response=models.RunOut,
    status=202,
    idempotent=True,
)
def trigger_job(job_id: str) -> Response:
    run = services.run_service().trigger(me().tenant, job_id, created_by=me().identity)
    return Response(status_code=202, body=run_out(run), headers=_run_location(run))


@_route(
    "/jobs/{job_id}/runs",
    "GET",
    summary="A job's runs, newest first",
    response=models.RunList,
    query=RUN_FILTERS,
    operation_id="listJobRuns",
)
def job_runs(job_id: str) -> dict[str, Any]:
    return _run_page(services.run_service().list_for_job(me().tenant, job_id, **_run_filters()))


@_route(
    "/tasks",
    "POST",
    summary="Run a task or a list of steps now, after a delay, or at a time",
    limited=True,
    request=models.TaskIn,
    response=models.RunOut,
    status=202,
    idempotent=True,
)
def submit_task() -> Response:
    from chalicelib.runs import steps_of
    from chalicelib.tasks import registry

    body = parse_body(bp, models.TaskIn)
    steps = steps_of(
        registry,
        body.task,
        [s.model_dump() for s in body.steps] if body.steps else None,
        body.args,
        body.kwargs,
        body.target,
        tenant=me().tenant,
        timeout_seconds=body.timeout_seconds,
    )
    run = services.run_service().submit(
        me().tenant,
        steps,
        data=body.data,
        queue=body.queue,
        delay_seconds=body.delay_seconds,
        run_at=_run_at(body.run_at),
        retry=body.retry.model_dump() if body.retry else None,
        timeout_seconds=body.timeout_seconds,
        created_by=me().identity,
    )
    return Response(status_code=202, body=run_out(run), headers=_run_location(run))


@_route(
    "/tasks",
    "GET",
    summary="Runs, newest first",
    response=models.RunList,
    query=(*RUN_FILTERS, QueryParam("job_id", {"type": "string"})),
)
def list_tasks() -> dict[str, Any]:
    filters = _run_filters() | {"job_id": query_value(bp, "job_id")}
    return _run_page(services.run_service().list(me().tenant, **filters))


@_route(
    "/tasks/{run_id}", "GET", summary="A run: status, times, result, steps", response=models.RunOut
)
def get_task(run_id: str) -> dict[str, Any]:
    return run_out(services.run_service().get(me().tenant, run_id))


@_route(
    "/tasks/{run_id}/messages",
    "GET",
    summary="A run's log, oldest first",
    response=models.MessageList,
    query=(
        QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
        QueryParam("cursor", {"type": "string"}),
    ),
    operation_id="listTaskMessages",
)
def task_messages(run_id: str) -> dict[str, Any]:
    page = services.run_service().messages(
        me().tenant,
        run_id,
        limit=query_int(bp, "limit", 100, 1, 1000),
        cursor=query_value(bp, "cursor"),
    )
    items = [
        models.MessageOut(at=format_instant(m.at), level=m.level, text=m.text, step=int(m.step))
        for m in page.items
    ]
    return models.MessageList(items=items, cursor=page.cursor).model_dump()


@_route(
    "/tasks/{run_id}",
    "DELETE",
    summary="Cancel: a queued run never runs; a running one stops at its next check",
    response=models.RunOut,
    owned=True,
)
def cancel_task(run_id: str) -> dict[str, Any]:
    return run_out(services.run_service().cancel(me().tenant, run_id, actor=me()))


@_route(
    "/tasks/{run_id}/retry",
    "POST",
    summary="Re-queue a FAILED or TIMED_OUT run",
    limited=True,
    response=models.RunOut,
    status=202,
    owned=True,
)
def retry_task(run_id: str) -> Response:
    run = services.run_service().retry(me().tenant, run_id, actor=me())
    return Response(status_code=202, body=run_out(run), headers=_run_location(run))


def key_out(item: ApiKey, secret: str | None = None) -> dict[str, Any]:
    return models.KeyOut(
        id=item.key_id,
        tenant=item.tenant,
        role=item.role,
        owner=item.owner or "",
        created_at=format_instant(item.created_at),
        disabled=bool(item.disabled),
        key=secret,
    ).model_dump()


@_route(
    "/keys",
    "POST",
    summary="Create an API key in your tenant (the secret is shown once)",
    request=models.KeyIn,
    response=models.KeyOut,
    status=201,
    access="admin",
    body_optional=True,
    idempotent=True,
    withheld=("key",),  # a secret is shown once, never stored: a replay answers it null
)
def create_key() -> Response:
    body = parse_body(bp, models.KeyIn)
    created = services.keys().create(me().tenant, body.role, body.owner)
    return Response(status_code=201, body=key_out(created.item, created.key))


@_route("/keys", "GET", summary="Your tenant's keys", response=models.KeyList, access="admin")
def list_keys() -> dict[str, Any]:
    return {"items": [key_out(item) for item in services.keys().list(me().tenant)]}


@_route("/keys/{key_id}", "DELETE", summary="Revoke a key", status=204, access="admin")
def revoke_key(key_id: str) -> Response:
    services.keys().revoke(me().tenant, key_id)
    return Response(status_code=204, body="")


def _secrets_out(found: list[Any]) -> dict[str, Any]:
    return models.SigningSecretOut(
        secrets=[
            models.SecretOut(
                secret=s.secret,
                created_at=_instant(s.created_at),
                expires_at=_instant(s.expires_at),
            )
            for s in found
        ]
    ).model_dump()


@_route(
    "/signing-secret",
    "GET",
    summary="The secrets that sign your HTTP targets' deliveries (made on first use)",
    response=models.SigningSecretOut,
    access="admin",
)
def get_signing_secret() -> dict[str, Any]:
    return _secrets_out(services.tenants().signing_secrets(me().tenant))


@_route(
    "/signing-secret/rotate",
    "POST",
    summary="A new signing secret; the previous one keeps signing for 24 hours",
    response=models.SigningSecretOut,
    access="admin",
)
def rotate_signing_secret() -> dict[str, Any]:
    return _secrets_out(services.tenants().rotate(me().tenant))


def _hosts_out(hosts: list[str]) -> dict[str, Any]:
    deployment = sorted(get_settings().http_allowed_hosts)
    return models.AllowedHostsOut(hosts=hosts, deployment=deployment).model_dump()


@_route(
    "/allowed-hosts",
    "GET",
    summary="Hosts your HTTP targets may call",
    response=models.AllowedHostsOut,
)
def get_allowed_hosts() -> dict[str, Any]:
    return _hosts_out(services.tenants().allowed_hosts(me().tenant))


@_route(
    "/allowed-hosts",
    "PUT",
    summary="Replace your tenant's list of hosts HTTP targets may call",
    request=models.AllowedHostsIn,
    response=models.AllowedHostsOut,
    access="admin",
    operation_id="replaceAllowedHosts",
)
def put_allowed_hosts() -> dict[str, Any]:
    body = parse_body(bp, models.AllowedHostsIn)
    return _hosts_out(services.tenants().set_allowed_hosts(me().tenant, list(body.hosts)))


def _run_location(run: Run) -> dict[str, str]:
    return {"Location": f"{PREFIX}/tasks/{run.run_id}"}


def _run_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value, "run_at")
    except ScheduleError as error:
        raise InvalidRequest(error.field, error.rule) from None


def _version(body: models.JobIn) -> int | None:
    """The version to check: the body's ``version``, else an ``If-Match`` header."""
    if body.version is not None:
        return body.version
    header = (bp.current_request.headers or {}).get("if-match")
    if header and header.strip('"W/ ').isdigit():
        return int(header.strip('"W/ '))
    return None
