"""The vitam face's request and response models (``chalicelib/api/vitam.py`` names them
through ``chalicelib.api.lazy``: pydantic loads at the first request that uses one, not at
import)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from chalicelib.api.models import Instant, Model
from chalicelib.api.vitam import Behavior


class VitamErrorOut(Model):
    """What ``vitam_error`` answers, and a failed task's ``error``: Vitam's ``VitamError``
    (``httpCode`` is the name its parser needs), plus the seed's ``http_code``."""

    httpCode: int
    http_code: int
    code: str
    context: str
    state: str
    message: str
    description: str
    errors: list[Any]


class Action(Model):
    model_config = ConfigDict(extra="ignore")
    action: str = Field(min_length=1, max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    results: dict[str, Any] | None = None
    status: str | None = None
    post_assign: list[Any] | None = None
    start_time: str | None = None
    end_time: str | None = None


class StepIn(Model):
    model_config = ConfigDict(extra="ignore")
    Step: str = Field(min_length=1, max_length=200)
    otherInfo: Any = None
    actions: list[Action] = Field(min_length=1, max_length=50)


class TaskOut(Model):
    id: str
    type: str
    state: str
    task_status: str
    start_date: Instant | None
    end_date: Instant | None
    expiration_date: Instant
    result_link: str
    error: VitamErrorOut | None
    actions: list[dict[str, Any]]


class Hits(Model):
    total: int
    size: int
    offset: int
    limit: int
    time_out: bool
    next: str | None


class TaskList(Model):
    hits: Hits
    context: dict[str, Any]
    results: list[str]


class StatusOut(Model):
    id: str
    service: str
    startDate: Instant
    status: str


class ActionDefinitionIn(Model):
    """Vitam's ``ActionDefinition``: ``actionKey`` names a registered task."""

    model_config = ConfigDict(extra="ignore")
    actionKey: str = Field(min_length=1, max_length=200)
    behavior: Behavior = "BLOCKING"


class ActionIn(Model):
    """Vitam's ``Action``: the definition under ``action``."""

    model_config = ConfigDict(extra="ignore")
    action: ActionDefinitionIn


class StepDefinitionIn(Model):
    """Vitam's ``Step`` (``workerGroupId``, ``distribution``, ``waitFor`` are not used)."""

    model_config = ConfigDict(extra="ignore")
    stepName: str = Field(min_length=1, max_length=200)
    behavior: Behavior | None = None
    actions: list[ActionIn] = Field(min_length=1, max_length=50)


class DescriptionStepIn(Model):
    """Vitam's ``DescriptionStep``: what ``WorkerClientRest.submitStep`` posts."""

    model_config = ConfigDict(extra="ignore")
    step: StepDefinitionIn
    workParams: dict[str, Any]


class ItemStatusOut(Model):
    """Vitam's ``ItemStatus``, as ``WorkerResource.submitStep`` answers it."""

    itemId: str
    message: str
    globalStatus: str
    statusMeter: list[int]
    data: dict[str, Any]
    itemsStatus: dict[str, Any]
    subTaskStatus: dict[str, Any]
    globalState: str
    globalOutcomeDetailSubcode: str | None
    lifecycleEnable: bool


class QueryIn(Model):
    model_config = ConfigDict(extra="ignore")
    query: str = Field("", max_length=1000)
