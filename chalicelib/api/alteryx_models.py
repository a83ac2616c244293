"""The alteryx face's request and response models (``chalicelib/api/alteryx.py`` names them
through ``chalicelib.api.lazy``: pydantic loads at the first request that uses one, not at
import)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, RootModel

from chalicelib.api.models import Instant, Model


class AlteryxErrorOut(Model):
    """What ``alteryx_error`` answers."""

    message: str


class Output(Model):
    id: str
    availableFormats: list[str]
    fileName: str


class Message(Model):
    status: int
    text: str
    toolId: int


class JobOut(Model):
    id: str
    appId: str
    createDateTime: Instant
    status: str
    disposition: str
    outputs: list[Output]
    messages: list[Message] | None = None
    priority: str
    workerTag: str
    runWithE2: bool


class JobList(RootModel[list[JobOut]]):
    pass


class MessageList(RootModel[list[Message]]):
    pass


class CancelOut(Model):
    message: str


class AppValue(Model):
    model_config = ConfigDict(extra="ignore")
    name: str
    value: str | int | float | bool | None = None


class RunIn(Model):
    """The swagger's ``EnqueueJobContract``."""

    model_config = ConfigDict(extra="ignore")
    priority: Literal["Default", "Low", "Medium", "High", "Critical"] | None = None
    workerTag: str | None = None
    credentialId: str | None = None
    questions: list[AppValue] | None = None


class WorkflowJobOut(Model):
    """The swagger's ``WorkflowJobView``."""

    id: str
    createDate: Instant
    status: Literal["Created", "Cancelled", "Running", "Queued", "Completed"]
    priority: str
    workerTag: str
    runWithE2: bool


class WorkflowJobList(RootModel[list[WorkflowJobOut]]):
    pass


class JobSummaryOut(Model):
    """The swagger's ``PagedJobSummaryView``."""

    jobId: str
    status: str
    workflowName: str
    workflowId: str
    submittedBy: str
    startTime: Instant | None
    queueTime: Instant | None
    executionTime: str | None
    priority: str


class PaginationOut(Model):
    currentPage: int
    pageSize: int
    totalItems: int
    totalPages: int
    hasNextPage: bool
    hasPreviousPage: bool


class PagedJobsOut(Model):
    """The swagger's ``PagedResponse[PagedJobSummaryView]``."""

    data: list[JobSummaryOut]
    pagination: PaginationOut


class ReducedWorkflowOut(Model):
    """The swagger's ``ReducedWorkflowView``."""

    id: str
    sourceAppId: str
    name: str
    ownerId: str
    dateCreated: Instant
    publishedVersionNumber: int
    isAmp: bool
    executionMode: Literal["Safe", "SemiSafe", "Standard"]


class WorkflowOut(Model):
    """The swagger's ``WorkflowView``."""

    id: str
    sourceAppId: str
    dateCreated: Instant
    runCount: int
    versions: list[dict[str, Any]]
    name: str
    ownerId: str
    workerTag: str
    districtTags: list[str]
    comments: str
    isPublic: bool
    isReadyForMigration: bool
    publishedVersionId: str
    othersMayDownload: bool
    othersCanViewHistory: bool
    othersCanExecute: bool
    executionMode: Literal["Safe", "SemiSafe", "Standard"]
    hasPrivateDataExemption: bool
    packageWorkflowType: Literal["App", "Module", "Macro"]


class WorkflowList(RootModel[list[ReducedWorkflowOut | WorkflowOut]]):
    """``view=Default`` lists reduced views, ``view=Full`` full ones (the swagger's two)."""


class QuestionItemOut(Model):
    key: str
    value: str


class QuestionOut(Model):
    """The swagger's ``WorkflowQuestionView``: one parameter of the workflow's task."""

    name: str
    questionType: str
    description: str
    value: str
    multiple: bool
    items: list[QuestionItemOut]


class QuestionList(RootModel[list[QuestionOut]]):
    pass


class TokenOut(Model):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class OAuthErrorOut(Model):
    """RFC 6749 §5.2."""

    error: str
    error_description: str


class TokenIn(Model):
    """The token request's form (RFC 6749 §4.4.2); the credentials may come as HTTP Basic."""

    grant_type: Literal["client_credentials"]
    client_id: str | None = Field(None, description="a key's id (or HTTP Basic's user)")
    client_secret: str | None = Field(None, description="the key (or HTTP Basic's password)")
