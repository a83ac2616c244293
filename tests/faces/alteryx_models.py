"""Alteryx Server API v3 response models, written from the product's swagger (``RyanMerlin/ayx-rs``
``docs/swagger-v3.json``, ``definitions``) as its real clients read them.

Strict as the clients are: the fields the swagger marks ``required`` must be there, every field
has the swagger's type (dates parse as ``date-time``), enums are closed as the Python client
generated from the swagger (``randreag/AYX-MCP-Wrapper`` ``src/server_client/models/*.py``)
checks them in its setters. Unknown fields are ignored, as both clients ignore them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

PRIORITY = Literal["Default", "Low", "Medium", "High", "Critical"]
EXECUTION_MODE = Literal["Safe", "SemiSafe", "Standard"]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class TokenResponse(_Model):
    """RFC 6749 §5.1, what both clients read ``access_token`` from."""

    access_token: str
    token_type: Literal["bearer", "Bearer"]
    expires_in: int


class OAuthError(_Model):
    """RFC 6749 §5.2."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    ]
    error_description: str | None = None


class ReducedWorkflowView(_Model):
    id: str
    sourceAppId: str
    name: str
    ownerId: str
    dateCreated: datetime
    publishedVersionNumber: int
    isAmp: bool
    executionMode: EXECUTION_MODE


class WorkflowView(_Model):
    id: str
    sourceAppId: str
    dateCreated: datetime
    runCount: int
    versions: list[dict]
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
    executionMode: EXECUTION_MODE | None = None
    hasPrivateDataExemption: bool | None = None
    packageWorkflowType: Literal["App", "Module", "Macro"] | None = None


class WorkflowQuestionItemView(_Model):
    key: str | None = None
    value: str | None = None


class WorkflowQuestionView(_Model):
    name: str | None = None
    questionType: str | None = None
    description: str | None = None
    value: str | None = None
    multiple: bool | None = None
    items: list[WorkflowQuestionItemView] | None = None


class OutputDataView(_Model):
    id: str | None = None
    availableFormats: list[str] | None = None
    fileName: str | None = None


class MessageView(_Model):
    status: int | None = None
    text: str | None = None
    toolId: int | None = None


class JobView(_Model):
    id: str | None = None
    appId: str | None = None
    createDateTime: datetime | None = None
    status: str | None = None
    disposition: str | None = None
    outputs: list[OutputDataView] | None = None
    messages: list[MessageView] | None = None
    priority: PRIORITY | None = None
    workerTag: str | None = None
    runWithE2: bool | None = None


class WorkflowJobView(_Model):
    id: str | None = None
    createDate: datetime | None = None
    status: Literal["Created", "Cancelled", "Running", "Queued", "Completed"] | None = None
    priority: str | None = None
    workerTag: str | None = None
    runWithE2: bool | None = None


class PagedJobSummaryView(_Model):
    jobId: str | None = None
    status: str | None = None
    workflowName: str | None = None
    workflowId: str | None = None
    submittedBy: str | None = None
    startTime: datetime | None = None
    queueTime: datetime | None = None
    executionTime: str | None = None
    priority: str | None = None


class PaginationInfo(_Model):
    currentPage: int | None = None
    pageSize: int | None = None
    totalItems: int | None = None
    totalPages: int | None = None
    hasNextPage: bool | None = None
    hasPreviousPage: bool | None = None


class PagedJobs(_Model):
    """``PagedResponse[PagedJobSummaryView]``."""

    data: list[PagedJobSummaryView] | None = None
    pagination: PaginationInfo | None = None


class Message(_Model):
    """The body of Alteryx's 4xx answers on this API."""

    message: str


WORKFLOWS = TypeAdapter(list[ReducedWorkflowView])
QUESTIONS = TypeAdapter(list[WorkflowQuestionView])
WORKFLOW_JOBS = TypeAdapter(list[WorkflowJobView])
MESSAGES = TypeAdapter(list[MessageView])
