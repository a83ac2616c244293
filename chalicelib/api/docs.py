"""Routes that describe the API itself: one OpenAPI 3.1 document per face, under ``/openapi/``.

The generator (and pydantic, and every face's models) is imported by these routes, not at
import: a cold start of the API or a worker does not pay for documents nobody asked for."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import native_error
from chalicelib.errors import NotFound

bp = Blueprint(__name__)


@bp.route("/openapi", methods=["GET"])
def openapi_index() -> dict[str, Any]:
    """Where each face's document is."""
    from chalicelib.api.openapi import FACES

    return {"faces": {face: f"/openapi/{face}.json" for face in FACES}}


@bp.route("/openapi/{name}", methods=["GET"])
def openapi_face(name: str) -> Any:
    """``/openapi/<face>.json``: the document of one face."""
    from chalicelib.api.openapi import FACES, document

    face = name.removesuffix(".json")
    if face not in FACES:
        return native_error(NotFound(f"no face {face!r}; the faces are {', '.join(FACES)}"))
    return document(face)


@bp.route("/openapi.json", methods=["GET"])
def openapi_json() -> dict[str, Any]:
    """The native API's document (kept from before the per-face documents)."""
    from chalicelib.api.openapi import document

    return document("native")
