"""Domain errors as HTTP statuses (the one place they are mapped), and the errors Chalice
produces itself (405, 415, 500) in the native JSON error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.errors import (
    BadRequest,
    BeatlessError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)

#: Each domain error's HTTP status; a subclass takes its nearest listed ancestor's.
HTTP_STATUS: dict[type[BeatlessError], int] = {
    InvalidRequest: 400,
    BadRequest: 400,
    Unprocessable: 422,
    PayloadTooLarge: 413,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    QuotaExceeded: 429,
    ServiceUnavailable: 503,
}


def http_status(error: BeatlessError) -> int:
    """The HTTP status ``error`` is answered with (500 for an error nobody mapped)."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


_CODES = {
    400: "invalid_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    500: "internal_error",
}


def normalise_chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: rewrite ``{"Code", "Message"}`` bodies to ``{"error": {...}}``, and send
    no body at all with a 204 (Chalice would serialise a view's ``None`` as ``null``, which a
    keep-alive client then reads as the start of its next answer)."""
    response = get_response(event)
    if response.status_code in (204, 304):
        response.body = ""
        return response
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        response.body = {
            "error": {
                "code": _CODES.get(response.status_code, "error"),
                "message": str(body["Message"]),
                "details": {},
            }
        }
    return response
