"""Domain errors. The service raises these; the API maps each to an HTTP status once
(``chalicelib.api.errors``) and each face renders them in its own shape."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException


class BeatlessError(Exception):
    """Base class: ``code`` is stable and machine-readable. Which HTTP status an error is
    answered with is the API's business (``chalicelib.api.errors.http_status``), not the
    domain's."""

    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidRequest(BeatlessError):
    code = "invalid_request"

    def __init__(self, field: str, rule: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{field}: {rule}", {"field": field, "rule": rule, **(details or {})})
        self.field = field
        self.rule = rule


class BadRequest(BeatlessError):
    """A 400 that is about the request as a whole, not one field (dialect messages)."""

    code = "bad_request"


class Unprocessable(InvalidRequest):
    """Valid on its own terms, but beatless cannot honour it (e.g. no EventBridge equivalent)."""

    code = "unprocessable"


class NotFound(BeatlessError):
    code = "not_found"


class Conflict(BeatlessError):
    code = "conflict"


class ServiceUnavailable(BeatlessError):
    """AWS failed underneath us; nothing was left half-written, so the call can be retried."""

    code = "service_unavailable"
    retry_after = 5


class QuotaExceeded(BeatlessError):
    """A per-tenant cap (``chalicelib.quotas``) refuses the request; nothing was written.
    ``details`` names the limit, the tenant's count and the cap; ``retry_after`` says when
    trying again may help."""

    code = "quota_exceeded"

    def __init__(self, limit: str, message: str, count: int, cap: int, retry_after: int) -> None:
        super().__init__(f"{limit}: {message}", {"limit": limit, "count": count, "max": cap})
        self.retry_after = retry_after


class Unauthorized(BeatlessError):
    """No key, an unknown key, or a disabled one."""

    code = "unauthorized"


class Forbidden(BeatlessError):
    """A valid key whose role or ownership does not allow this."""

    code = "forbidden"


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"


#: What AWS raises underneath a request (botocore's errors, and PynamoDB's around them).
AWS_ERRORS = (ClientError, BotoCoreError, PynamoDBException)

#: AWS error codes that mean "someone else changed it first", not "AWS is down".
RACE_CODES = frozenset(
    {"ConditionalCheckFailedException", "TransactionConflictException", "ConflictException"}
)


def aws_error_code(error: BaseException) -> str:
    """The AWS error code behind a botocore or PynamoDB exception ('' for a transport error)."""
    code = getattr(error, "cause_response_code", None)  # PynamoDB wraps the ClientError
    if code:
        return str(code)
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def condition_failed(error: BaseException) -> bool:
    """Whether a conditional write was refused because the item was not as expected."""
    return aws_error_code(error) == "ConditionalCheckFailedException"


def from_aws(error: BaseException) -> BeatlessError:
    """What a client is told when AWS failed under a request nobody caught more precisely: a
    lost race is a 409 to reload and retry; throttling, a 5xx or a timeout is a 503 with
    Retry-After (every write is conditional or transactional, so nothing was half-done)."""
    code = aws_error_code(error)
    reasons = getattr(error, "cancellation_reasons", None) or []
    if code in RACE_CODES or any(r is not None and r.code in RACE_CODES for r in reasons):
        return Conflict("the resource changed concurrently; reload it and retry")
    return ServiceUnavailable(f"AWS is unavailable ({code or type(error).__name__}); retry shortly")
