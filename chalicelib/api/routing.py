"""Route registration shared by every face: error rendering, body parsing, OpenAPI records.

Chalice's REST middleware never sees a view's exceptions, so each view is wrapped here: a
``BeatlessError`` becomes the face's error response, and nothing a client sends can reach the
generic 500 handler.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Blueprint, Response

from chalicelib.api.errors import http_status
from chalicelib.auth import Principal
from chalicelib.errors import AWS_ERRORS, BeatlessError, InvalidRequest, PayloadTooLarge, from_aws
from chalicelib.schedules.durations import parse_instant
from chalicelib.schedules.errors import ScheduleError

if TYPE_CHECKING:  # pydantic is imported by the first request that parses a body (cold start)
    from pydantic import BaseModel, ValidationError

    from chalicelib.api.lazy import ModelRef

log = logging.getLogger(__name__)
#: What AWS raises through boto3 and PynamoDB: throttling, 5xx, timeouts, lost races.

#: Content types a body may be sent with; JSON is parsed from the raw body whatever the label,
#: so ``curl -d`` without a Content-Type header works.
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]
MAX_BODY = 256 * 1024
#: What a task receives is stored in DynamoDB items (400 KB each): each field is capped.
MAX_PAYLOAD = 64 * 1024
PAYLOAD_FIELDS = ("args", "kwargs", "data", "steps")

M = TypeVar("M", bound="BaseModel")
ErrorRenderer = Callable[[BeatlessError], Response]


@dataclass(frozen=True)
class QueryParam:
    """A query (or, with ``location="header"``, a header) parameter of an operation."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    location: str = "query"
    required: bool = False


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI generator needs to know about one operation."""

    face: str
    path: str
    method: str
    summary: str
    request: ModelRef | None
    response: ModelRef | None
    status: int
    query: tuple[QueryParam, ...] = ()
    access: str = "user"  # public | user | admin
    render: ErrorRenderer = field(default=None, compare=False)  # type: ignore[assignment]
    #: Error statuses besides 401/403 (from access); 404 needs a path parameter, 413/422 a body.
    errors: tuple[int, ...] = field(default=(400, 404, 409, 413, 422, 503))
    #: The body ``render`` answers with, documented for every error status of the face.
    error_model: ModelRef | None = None
    #: The OpenAPI ``operationId``: the view's name in camelCase (``pause_job``: ``pauseJob``).
    operation_id: str = ""
    #: The OpenAPI tag (the generated client's module); empty: the path's resource.
    tag: str = ""
    #: A user key may be refused (403) what another key created: only admins change any.
    owned: bool = False
    #: The part of ``path`` the face mounts its routes under (``/v1``).
    prefix: str = ""
    #: How ``request`` is sent (OAuth2's token request is a form).
    request_media: str = "application/json"
    #: No body is a valid request (taken as ``{}``: a PATCH that changes nothing, a key with
    #: the defaults); the document says the body is optional.
    body_optional: bool = False
    #: Admits what a per-tenant cap counts (a job, a run): may answer 429 (``chalicelib.quotas``).
    limited: bool = False
    #: Takes an ``Idempotency-Key`` header (a create): documented, and handled by ``route``.
    idempotent: bool = False


ROUTES: list[RouteDoc] = []


def native_error(error: BeatlessError) -> Response:
    return Response(
        status_code=http_status(error),
        body={"error": {"code": error.code, "message": error.message, "details": error.details}},
    )


def answer_error(render: ErrorRenderer, error: BaseException) -> Response:
    """``error`` in a face's shape; AWS failures become 409/503, and every 503 says when to
    come back (Retry-After), whichever face renders it."""
    if not isinstance(error, BeatlessError):
        log.warning("AWS failed under a request: %r", error)
        error = from_aws(error)
    response = render(error)
    if getattr(error, "retry_after", None):
        response.headers["Retry-After"] = str(error.retry_after)  # type: ignore[attr-defined]
    return response


def route(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    face: str,
    summary: str,
    prefix: str = "",
    request: ModelRef | None = None,
    response: ModelRef | None = None,
    status: int = 200,
    query: tuple[QueryParam, ...] = (),
    access: str = "user",
    render: ErrorRenderer = native_error,
    error_model: ModelRef | None = None,
    errors: tuple[int, ...] | None = None,
    operation_id: str | None = None,
    id_suffix: str = "",
    tag: str = "",
    owned: bool = False,
    request_media: str = "application/json",
    body_optional: bool = False,
    limited: bool = False,
    idempotent: bool = False,
    withheld: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` on ``bp`` for ``method path`` with error rendering and OpenAPI docs.

    ``query`` declares the operation's query parameters (and headers): they are what its OpenAPI
    document lists, and any other query parameter is a 400 naming it, never silently ignored.
    ``operation_id`` (default: the view's name in camelCase, then ``id_suffix``), ``tag`` and
    ``owned`` (a user key is refused what it did not create) only describe the operation.
    ``idempotent`` (a create) honours an ``Idempotency-Key`` header (``chalicelib.idempotency``);
    ``withheld`` names answer fields never stored for a replay (a secret shown once: null)."""
    takes = frozenset(q.name for q in query if q.location == "query")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            try:
                _check_size(bp)  # before any lookup: an oversized body is refused unread
                _check_query(bp, takes)
                key = (bp.current_request.headers or {}).get("idempotency-key")
                if idempotent and key is not None:
                    answer = (view, kwargs, render, withheld)
                    return _idempotently(bp, answer, key, prefix + path)
                return view(**kwargs)
            except (BeatlessError, *AWS_ERRORS) as error:
                return answer_error(render, error)

        ROUTES.append(
            RouteDoc(
                face,
                prefix + path,
                method,
                summary,
                request,
                response,
                status,
                query,
                access,
                render,
                error_model=error_model,
                operation_id=(operation_id or _camel(view.__name__)) + id_suffix,
                tag=tag,
                owned=owned,
                prefix=prefix,
                request_media=request_media,
                body_optional=body_optional,
                limited=limited,
                idempotent=idempotent,
                **({"errors": errors} if errors is not None else {}),
            )
        )
        bp.route(path, methods=[method], content_types=CONTENT_TYPES)(wrapped)
        return wrapped

    return decorator


def _idempotently(
    bp: Blueprint,
    answer: tuple[Callable[..., Any], dict[str, Any], ErrorRenderer, tuple[str, ...]],
    key: str,
    path: str,
) -> Response:
    """The view under an Idempotency-Key: the stored answer if the same request completed, else
    the work done on ids derived from the key, its answer stored unless it is to be retried."""
    from chalicelib import idempotency  # what a request without the header never needs
    from chalicelib.ids import derived_ids

    view, kwargs, render, withheld = answer
    request = bp.current_request
    me = principal(bp)
    claim = idempotency.begin(
        me.tenant,
        me.identity,
        idempotency.check_key(key),
        idempotency.fingerprint(request.method, path, kwargs, request.raw_body or b""),
    )
    if isinstance(claim, idempotency.Replay):
        headers = {**claim.headers, idempotency.REPLAYED: "true"}
        return Response(status_code=claim.status, body=claim.body, headers=headers)
    try:
        with derived_ids(claim.key, claim.started_ms):
            response = _response(view(**kwargs))
    except (BeatlessError, *AWS_ERRORS) as error:
        response = answer_error(render, error)
    except BaseException:
        idempotency.release(claim)
        raise
    if response.status_code >= 500 or response.status_code in idempotency.NOT_STORED:
        idempotency.release(claim)
        return response
    body = response.body
    if not isinstance(body, str):
        if isinstance(body, dict):
            body = {name: None if name in withheld else value for name, value in body.items()}
        body = json.dumps(body, separators=(",", ":"), default=str)
        response.headers.setdefault("Content-Type", "application/json")
    idempotency.complete(claim, response.status_code, body, response.headers)
    return response


def _response(answer: Any) -> Response:
    """A view's answer as a Response (a body alone is a 200, as Chalice answers it)."""
    return answer if isinstance(answer, Response) else Response(status_code=200, body=answer)


def _camel(name: str) -> str:
    first, *rest = name.strip("_").split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def _check_size(bp: Blueprint) -> None:
    raw = bp.current_request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge("body", f"is {len(raw)} bytes; the limit is {MAX_BODY}")


def _check_query(bp: Blueprint, takes: frozenset[str]) -> None:
    """Refuse a query parameter the operation does not declare: ``GET /v1/jobs?nmae=x`` must not
    answer every job as if it had been filtered."""
    unknown = sorted(set(bp.current_request.query_params or {}) - takes)
    if unknown:
        known = f"it takes {', '.join(sorted(takes))}" if takes else "it takes none"
        raise InvalidRequest(
            unknown[0][:100], f"is not a query parameter of this operation ({known})"
        )


def route_of(path: str | None, method: str) -> RouteDoc | None:
    """The registered operation for ``method path`` (None for routes outside ``route``)."""
    for doc in ROUTES:
        if doc.path == path and doc.method == method:
            return doc
    return None


def principal(bp: Blueprint) -> Principal:
    """The caller, set by the authentication middleware."""
    return bp.current_request.context["principal"]  # type: ignore[no-any-return]


def parse_body(bp: Blueprint, model: type[M] | ModelRef) -> M:
    """The request body validated against ``model``; every failure is a 400 naming the field."""
    _check_size(bp)
    raw = bp.current_request.raw_body or b""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest("body", f"is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise InvalidRequest("body", "must be a JSON object")
    for name in PAYLOAD_FIELDS:
        if name in data and len(json.dumps(data[name])) > MAX_PAYLOAD:
            raise PayloadTooLarge(name, f"is over {MAX_PAYLOAD // 1024} KB as JSON")
    from pydantic import ValidationError

    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as error:
        raise validation_error(error) from None


def validation_error(error: ValidationError) -> InvalidRequest:
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "rule": _rule(e)}
        for e in error.errors(include_url=False)
    ]
    first = problems[0]
    return InvalidRequest(first["field"], first["rule"], {"errors": problems})


def _rule(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"])


def query_value(bp: Blueprint, name: str) -> str | None:
    """A string query parameter; an empty one (``?job_id=``) is absent."""
    return query_raw(bp, name) or None


def query_raw(bp: Blueprint, name: str) -> str | None:
    """A query parameter as sent: for typed and enum parameters, where empty is not absent."""
    params = bp.current_request.query_params or {}
    return params.get(name)


def query_int(bp: Blueprint, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter, as documented: ``?limit=`` (empty) is not an integer."""
    raw = query_raw(bp, name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise InvalidRequest(name, f"{raw!r} must be an integer from {low} to {high}")
    return int(raw)


def query_bool(bp: Blueprint, name: str) -> bool | None:
    """A boolean query parameter: ``true`` or ``false``, as the OpenAPI documents say."""
    raw = query_raw(bp, name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise InvalidRequest(name, f"{raw!r} must be true or false")
    return raw == "true"


#: RFC 3339 as the ``date-time`` format has it (a ``+`` decoded to a space is taken back).
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def query_instant(bp: Blueprint, name: str) -> datetime | None:
    """An RFC 3339 query parameter such as ``2030-01-01T09:00:00Z``, offset required."""
    raw = query_raw(bp, name)
    if raw is None:
        return None
    text = re.sub(r" (\d{2}:\d{2})$", r"+\1", raw)  # ?since=...T09:00:00+02:00, + unencoded
    if not _RFC3339.match(text):
        raise InvalidRequest(
            name, f"{raw[:100]!r} must be an RFC 3339 instant such as 2030-01-01T09:00:00Z"
        )
    try:
        return parse_instant(text, name)
    except ScheduleError as error:
        raise InvalidRequest(name, error.rule) from None
