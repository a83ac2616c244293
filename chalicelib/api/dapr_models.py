"""The dapr face's request and response models (``chalicelib/api/dapr.py`` names them
through ``chalicelib.api.lazy``: pydantic loads at the first request that uses one, not at
import)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, ConfigDict, Field

from chalicelib.api.models import Model


class DaprErrorOut(Model):
    """What ``dapr_error`` answers: Dapr's error body, with its ErrorInfo in ``details``."""

    errorCode: str
    message: str
    details: list[dict[str, Any]]


class Constant(Model):
    model_config = ConfigDict(extra="ignore")
    interval: str = Field("0s", pattern=r"^\d+(\.\d+)?s$", description="seconds, e.g. 3s")
    max_retries: int | None = Field(
        None, ge=0, le=19, validation_alias=AliasChoices("maxRetries", "max_retries")
    )


class FailurePolicy(Model):
    model_config = ConfigDict(extra="ignore")
    drop: dict[str, Any] | None = None
    constant: Constant | None = None


class DaprJob(Model):
    """A Dapr job, camelCase or snake_case; unknown fields are ignored, as protojson does."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    schedule: str | None = Field(None, max_length=256)
    due_time: str | None = Field(None, validation_alias=AliasChoices("dueTime", "due_time"))
    ttl: str | None = Field(None, max_length=64)
    repeats: int | None = Field(None, ge=0)
    data: Any = None
    overwrite: bool = False
    failure_policy: FailurePolicy | None = Field(
        None, validation_alias=AliasChoices("failurePolicy", "failure_policy")
    )
    name: str | None = None


class DaprJobIn(DaprJob):
    job: DaprJob | None = None

    def unwrapped(self) -> DaprJob:
        """The job, whether sent wrapped (``{"job": {...}}``, as the seed) or flat."""
        return self.job if self.job is not None else self


class DaprJobOut(Model):
    name: str
    schedule: str | None = None
    repeats: int | None = None
    dueTime: str | None = None
    ttl: str | None = None
    data: Any = None
    failurePolicy: dict[str, Any]
