"""The web console, served by the API's own app: ``/console/`` and its static assets, ``/docs``
(the native OpenAPI document rendered by the console's own script), and ``/`` pointing at it.

No data is served here: the pages call the tenant-scoped API with the key the user typed, so
these routes are public (``chalicelib.api.auth.PUBLIC_PATHS``). Every answer carries a strict
Content-Security-Policy (scripts and styles from this origin only, no inline script, no framing).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api.routing import native_error
from chalicelib.errors import NotFound

bp = Blueprint(__name__)
STATIC = Path(__file__).parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@cache
def asset(name: str) -> tuple[bytes, str] | None:
    """A static file's bytes and ETag; None for anything that is not one of ours (no dot-files,
    no path traversal: the name is one path segment and must be a file of ``static/``)."""
    if name.startswith(".") or "/" in name or "\\" in name:
        return None
    path = STATIC / name
    if path.suffix not in CONTENT_TYPES or not path.is_file():
        return None
    data = path.read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def serve(name: str) -> Response:
    found = asset(name)
    if found is None:
        return native_error(NotFound(f"no console file {name[:100]!r}"))
    data, etag = found
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": CONTENT_TYPES[Path(name).suffix],
        # Unversioned names: the browser keeps them but asks again (a 304 when unchanged).
        "Cache-Control": "no-cache",
        "ETag": etag,
    }
    sent = (bp.current_request.headers or {}).get("if-none-match", "")
    if etag in {tag.strip() for tag in sent.split(",")}:
        return Response(status_code=304, body="", headers=headers)
    return Response(status_code=200, body=data.decode(), headers=headers)


def _redirect(location: str) -> Response:
    return Response(status_code=302, body="", headers={**SECURITY_HEADERS, "Location": location})


def _asked() -> str:
    """The path the browser asked for, stage prefix included (``requestContext.path``: ``/api/``
    deployed, ``/`` under ``make run``), as sent."""
    event = bp.current_request.to_original_event()
    return event.get("requestContext", {}).get("path") or event.get("path") or "/"  # type: ignore[no-any-return]


def _requested() -> str:
    """``_asked()`` with its empty segments dropped (``//x`` is not a host)."""
    return "/" + "/".join(part for part in _asked().split("/") if part)


@bp.route("/", methods=["GET"])
def root() -> Response:
    """``/`` → the console."""
    return _redirect(_requested().rstrip("/") + "/console/")


@bp.route("/console", methods=["GET"])
def console() -> Response:
    """``/console/``: the page. ``/console`` (no slash) redirects there, so the page's relative
    links resolve under ``/console/`` (API Gateway and Chalice give both the same route)."""
    if not _asked().endswith("/"):
        return _redirect(_requested() + "/")
    return serve("index.html")


@bp.route("/console/{name}", methods=["GET"])
def console_asset(name: str) -> Response:
    return serve(name)


@bp.route("/docs", methods=["GET"])
def docs() -> Response:
    """The native API's OpenAPI document as a page (rendered by ``docs.js``)."""
    return serve("docs.html")
