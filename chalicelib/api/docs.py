"""Routes that describe the API itself."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.openapi import document

bp = Blueprint(__name__)


@bp.route("/openapi.json", methods=["GET"])
def openapi_json() -> dict[str, Any]:
    """The native API's OpenAPI 3.1 document."""
    return document("native")
