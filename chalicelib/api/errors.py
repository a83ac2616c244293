"""Give the errors Chalice produces itself (405, 415, 500) the native JSON error shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response

_CODES = {
    400: "invalid_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    500: "internal_error",
}


def normalise_chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: rewrite ``{"Code", "Message"}`` bodies to ``{"error": {...}}``."""
    response = get_response(event)
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
