"""Request and response models of the native API; the OpenAPI document is generated from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.api.names import (  # noqa: F401  (re-exported: tests and faces name them here)
    NAME_MAX,
    NAME_PATTERN,
    UNPADDED_PATTERN,
    WHITESPACE,
    name_rule,
    padding_rule,
)
from chalicelib.vocabulary import Overlap, Queue, RunStatus, Trigger


class Model(BaseModel):
    """Every face's models derive from this: pydantic builds a model's validator and serializer
    when it is first used, not when its class is created, so a request pays only for the models
    it uses (issue 19; the API imports none of them, ``chalicelib.api.lazy``)."""

    model_config = ConfigDict(defer_build=True)


def _checked(rule: Callable[[str], str | None]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if problem := rule(value):
            raise PydanticCustomError("job_name", problem)
        return value

    return check


#: A job name of the native face (JobIn, JobPatch).
Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX, json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(_checked(name_rule)),
]
#: A job name where a face allows any character (udata): not blank, no whitespace at the ends.
UnpaddedName = Annotated[
    str,
    Field(json_schema_extra={"pattern": UNPADDED_PATTERN}),
    AfterValidator(_checked(padding_rule)),
]

#: Fields a GET returns that a PUT or PATCH may carry back unchanged; they are ignored.
READ_ONLY = frozenset(
    {
        "id",
        "spec",
        "expressions",
        "path",
        "schedule_description",
        "next_run_at",
        "last_run_at",
        "last_run_id",
        "total_run_count",
        "created_at",
        "updated_at",
        "created_by",
        "finished_at",
    }
)


def _integral(value: Any) -> Any:
    """JSON Schema's integer includes 5.0: take it as 5 (strict models refuse floats otherwise)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: An integer field of a strict model: 5 and 5.0, never "5" or true.
Int = Annotated[int, BeforeValidator(_integral)]
#: An instant the API formats (``format_instant``): RFC 3339 in UTC, such as
#: ``2030-01-01T09:00:00Z``; a generated client reads it as a datetime.
Instant = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Crontab(Model):
    """Celery crontab; a missing field means ``*``. Day fields are AND-ed, Sunday = 0."""

    model_config = ConfigDict(extra="forbid", strict=True)
    minute: str | Int | None = None
    hour: str | Int | None = None
    day_of_week: str | Int | None = None
    day_of_month: str | Int | None = None
    month_of_year: str | Int | None = None


class Interval(Model):
    model_config = ConfigDict(extra="forbid", strict=True)
    every: Int = Field(ge=1)
    period: Literal["days", "hours", "minutes", "seconds"]


class RetryPolicy(Model):
    """Attempts and exponential backoff (through SQS delays, so at most 900 s apart)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    max_attempts: Int = Field(1, ge=1, le=20)
    initial_seconds: float = Field(1.0, ge=0, le=900)
    multiplier: float = Field(2.0, ge=1, le=10)
    max_seconds: float = Field(900.0, ge=1, le=900)


class ScheduleFields(Model):
    """Exactly one of crontab, schedule or interval, or due_time alone or with one of them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    crontab: Crontab | None = None
    schedule: str | None = Field(
        None,
        max_length=256,
        description="5-field cron, 6-field cron with seconds, @daily-style macro, "
        "@every <Go duration>, or EventBridge cron()/rate()/at(); optional CRON_TZ= prefix",
    )
    interval: Interval | None = None
    due_time: str | None = Field(
        None, max_length=64, description="Go or ISO 8601 duration from now, or RFC 3339 instant"
    )
    timezone: str | None = Field(None, max_length=64, description="IANA time zone, default UTC")
    start_at: str | None = Field(None, max_length=64, description="RFC 3339")
    end_at: str | None = Field(None, max_length=64, description="RFC 3339")
    ttl: str | None = Field(None, max_length=64, description="duration or RFC 3339; ends the job")
    # The bound inside the Annotated, so the schema says ``minimum`` (not ``ge``) in its branch.
    repeats: Annotated[int, Field(ge=1), BeforeValidator(_integral)] | None = Field(
        None, description="maximum number of runs"
    )

    def schedule_values(self) -> dict[str, Any]:
        return self.model_dump(
            include=set(ScheduleFields.model_fields), exclude_none=True, mode="json"
        )


class JobIn(ScheduleFields):
    """A job as POST and PUT take it. Read-only fields of a GET body are accepted and ignored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "nightly-report", "task": "echo", "schedule": "0 2 * * *"},
                {
                    "name": "every-5",
                    "task": "echo",
                    "interval": {"every": 5, "period": "minutes"},
                    "repeats": 10,
                },
            ]
        }
    )
    name: Name
    task: str | None = Field(None, min_length=1, max_length=200, description="a registered task")
    target: dict[str, Any] | None = Field(
        None,
        description='work that needs no code, instead of task: {"type": "http", "url": ...} '
        "(see docs/targets.md); give task or target",
    )
    description: str = Field("", max_length=2000)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    data: Any = None
    enabled: bool = True
    # The vocabularies' enums (one schema each, shared with the read models), taken as strings.
    queue: Queue | None = Field(None, strict=False)
    overlap: Overlap = Field(Overlap.ALLOW, strict=False)
    retry: RetryPolicy | None = None
    timeout_seconds: Int = Field(300, ge=1, le=900, description="a run's time limit")
    version: Int | None = Field(None, description="optimistic lock: the version you read")

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if k not in READ_ONLY}
        # A GET body's ``schedule`` renders its crontab, interval or due time ("once at …"):
        # sent back, it is not a second schedule form.
        schedule = data.get("schedule")
        if isinstance(schedule, str) and (
            data.get("crontab") is not None
            or data.get("interval") is not None
            or schedule.startswith("once at ")
        ):
            data.pop("schedule")
        return data

    def values(self) -> dict[str, Any]:
        return self.model_dump(exclude={"version"}, exclude_none=True, mode="json") | {
            "data": self.data
        }


def _no_defaults(schema: dict[str, Any]) -> None:
    """A patch schema has no defaults: a client generated from it (openapi-python-client) would
    send each default on every PATCH, and so un-pause a paused job or reset its description."""
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class JobPatch(JobIn):
    """PATCH: every field optional; only the fields sent change (null clears a field)."""

    model_config = ConfigDict(json_schema_extra=_no_defaults)
    # Optional, but never null: the schema says string, the validator says why.
    name: Name = None  # type: ignore[assignment]
    task: str = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]

    @field_validator(
        "name",
        "task",
        "description",
        "args",
        "kwargs",
        "enabled",
        "overlap",
        "timeout_seconds",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave it out to keep it")
        return value

    def changes(self) -> dict[str, Any]:
        sent = set(self.model_fields_set) - {"version"}
        changes = self.model_dump(include=sent, mode="json")
        for name in ("crontab", "interval"):  # a null inside these means "not given"
            if isinstance(changes.get(name), dict):
                changes[name] = {k: v for k, v in changes[name].items() if v is not None}
        return changes


class PreviewIn(ScheduleFields):
    count: Int = Field(5, ge=1, le=100)


class PreviewOut(Model):
    expressions: list[str]
    timezone: str
    path: Literal["scheduler", "sqs"]
    next: list[Instant]
    description: str
    schedule: str


class JobOut(Model):
    id: str
    name: str
    description: str
    task: str | None
    target: dict[str, Any] | None = None
    args: list[Any]
    kwargs: dict[str, Any]
    data: Any = None
    enabled: bool
    queue: Queue
    overlap: Overlap
    crontab: Crontab | None = None
    interval: Interval | None = None
    due_time: str | None = None
    schedule: str = Field(description="human-readable schedule (cron text or 'every 5 minutes')")
    schedule_description: str
    timezone: str
    start_at: str | None = Field(None, description="as sent (RFC 3339)")
    end_at: str | None = Field(None, description="as sent, or the instant a ttl ends (RFC 3339)")
    ttl: str | None = None
    repeats: int | None = None
    spec: dict[str, Any] = Field(description="the normalised schedule")
    expressions: list[str] = Field(description="the EventBridge Scheduler expressions in use")
    path: Literal["scheduler", "sqs"]
    next_run_at: Instant | None
    last_run_at: Instant | None
    last_run_id: str | None
    total_run_count: int
    created_at: Instant
    updated_at: Instant
    retry: RetryPolicy | None = None
    timeout_seconds: int
    finished_at: Instant | None = None
    version: int

    @field_serializer("crontab", "interval", "retry")
    def _as_stored(self, value: BaseModel | None):  # type: ignore[no-untyped-def]
        # No return annotation: the documented schema stays the field's (Crontab, not {}).
        """The schedule fields as they were sent: a crontab's missing fields stay missing."""
        return value.model_dump(exclude_none=True) if value is not None else None


class JobList(Model):
    items: list[JobOut]
    cursor: str | None = Field(description="pass as ?cursor= for the next page; null at the end")


class TaskOut(Model):
    name: str
    queue: Queue
    doc: str
    schedulable: bool


class TaskList(Model):
    items: list[TaskOut]


class StatusOut(Model):
    id: str
    service: str
    startDate: Instant
    status: Literal["Active", "Inactive", "ShutdownInProgress", "Unreachable"]
    version: str


class ErrorDetail(Model):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Model):
    error: ErrorDetail


class StepIn(Model):
    model_config = ConfigDict(extra="forbid", strict=True)
    task: str | None = Field(None, min_length=1, max_length=200)
    target: dict[str, Any] | None = Field(
        None,
        description='work that needs no code, instead of task: {"type": "http", "url": ...} '
        "(see docs/targets.md); give task or target",
    )
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TaskIn(Model):
    """An ad-hoc run: one task, or steps run in order (each result passed to the next)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"task": "echo", "args": ["hello"]},
                {"task": "echo", "delay_seconds": 60},
            ]
        },
    )
    task: str | None = Field(None, min_length=1, max_length=200)
    target: dict[str, Any] | None = Field(
        None,
        description='work that needs no code, instead of task: {"type": "http", "url": ...} '
        "(see docs/targets.md); give task or target",
    )
    steps: list[StepIn] | None = Field(None, min_length=1, max_length=50)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    data: Any = None
    queue: Queue | None = Field(None, strict=False)
    delay_seconds: Annotated[int, Field(ge=0, le=900), BeforeValidator(_integral)] | None = None
    run_at: str | None = Field(None, max_length=64, description="RFC 3339, at most 7 days ahead")
    retry: RetryPolicy | None = None
    timeout_seconds: Int = Field(300, ge=1, le=900)


class StepOut(Model):
    task: str | None = None
    target: dict[str, Any] | None = None
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus | None = None
    result: Any = None
    started_at: Instant | None = None
    ended_at: Instant | None = None


class AttemptOut(Model):
    number: int
    started_at: Instant | None
    ended_at: Instant
    outcome: Literal["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]
    error: str | None = Field(description="`Exc: message`; null for SUCCEEDED and CANCELLED")


class RunOut(Model):
    id: str
    job_id: str | None
    task: str | None
    target: dict[str, Any] | None = Field(None, description="the first step's target, if any")
    steps: list[StepOut]
    data: Any = None
    status: RunStatus
    attempt: int
    queue: Queue
    trigger: Trigger
    scheduled_time: Instant | None
    queued_at: Instant | None
    started_at: Instant | None
    ended_at: Instant | None
    retry_at: Instant | None
    result: Any = None
    exc: str | None
    error: str | None
    traceback: str | None
    reason: str | None
    cancel_requested: bool
    attempts: list[AttemptOut] = Field(
        description="every attempt that ended, in order; the top-level fields describe the "
        "run's final outcome (or, while it waits for another attempt, the failure it waits after)"
    )


class RunList(Model):
    items: list[RunOut]
    cursor: str | None


class MessageOut(Model):
    at: Instant
    level: str
    text: str
    step: int


class MessageList(Model):
    items: list[MessageOut]
    cursor: str | None


class KeyIn(Model):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["admin", "user"] = "user"
    owner: str = Field("", max_length=200, description="who holds it; recorded as creator")


class KeyOut(Model):
    id: str
    tenant: str
    role: Literal["admin", "user"]
    owner: str
    created_at: Instant
    disabled: bool
    key: str | None = Field(None, description="the secret: only in the answer that creates it")


class KeyList(Model):
    items: list[KeyOut]


class SecretOut(Model):
    secret: str
    created_at: Instant | None
    expires_at: Instant | None = Field(description="null for the current secret")


class SigningSecretOut(Model):
    """The secrets that sign HTTP target deliveries now: the current one first."""

    secrets: list[SecretOut]


class AllowedHostsIn(Model):
    model_config = ConfigDict(extra="forbid", strict=True)
    hosts: list[str] = Field(
        max_length=100, description="host names, *.domain for its subdomains, or * for any host"
    )


class AllowedHostsOut(Model):
    hosts: list[str] = Field(description="the tenant's own list, which its admins manage")
    deployment: list[str] = Field(description="hosts the deployment allows every tenant")
