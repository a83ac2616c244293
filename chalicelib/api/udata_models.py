"""The udata face's request and response models (``chalicelib/api/udata.py`` names them
through ``chalicelib.api.lazy``: pydantic loads at the first request that uses one, not at
import)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field, RootModel, field_validator
from pydantic_core import PydanticCustomError

from chalicelib.api.models import Instant, Model, UnpaddedName


class UdataCrontab(Model):
    model_config = ConfigDict(extra="ignore")
    minute: str | int = "*"
    hour: str | int = "*"
    day_of_week: str | int = "*"
    day_of_month: str | int = "*"
    month_of_year: str | int = "*"


class UdataInterval(Model):
    model_config = ConfigDict(extra="ignore")
    every: int
    period: str


class UdataJobIn(Model):
    """udata's job form: unknown and read-only keys are ignored, as wtforms-json does."""

    model_config = ConfigDict(extra="ignore")
    name: UnpaddedName | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    task: str | None = Field(None, min_length=1, max_length=200)
    enabled: bool | None = None
    crontab: UdataCrontab | None = None
    interval: UdataInterval | None = None
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None

    @field_validator("crontab", "interval", mode="before")
    @classmethod
    def _json_string(cls, value: Any) -> Any:
        """A schedule sent as a JSON string is taken (udata's test_update_job sends
        ``task.crontab.to_json()``); a string that is not JSON is a 400 naming the field."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as error:
            raise PydanticCustomError(
                "json_invalid",
                "must be an object or a JSON string of one ({error})",
                {"error": str(error)},
            ) from None


class UdataJobOut(Model):
    id: str
    name: str
    description: str | None
    task: str
    crontab: dict[str, str] | None
    interval: dict[str, Any] | None
    args: list[Any]
    kwargs: dict[str, Any]
    schedule: str
    last_run_at: Instant | None
    last_run_id: str | None
    enabled: bool


class UdataTaskOut(Model):
    id: str
    status: Literal["PENDING", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"]
    result: str | None
    exc: str | None
    traceback: str | None


class UdataJobList(RootModel[list[UdataJobOut]]):
    """udata answers the list itself, not an envelope."""


class UdataErrorOut(Model):
    """What ``udata_error`` answers."""

    message: str
    errors: dict[str, Any] | None = None


class Schedulables(RootModel[list[str]]):
    pass
