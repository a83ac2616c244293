"""Authentication, once for every route: an HTTP middleware (it runs in API Gateway's Lambda, in
``chalice.test.Client`` and under ``make run`` alike).

The key comes in ``Authorization: Bearer <key>``, ``X-API-KEY`` (udata clients),
``X-Vitam-Key`` (Vitam clients) or ``dapr-api-token`` (Dapr clients). Missing, unknown or
disabled → 401 with ``WWW-Authenticate``; a route for admins called with a user key → 403. The
principal is left in the request context for the views, which key every read and write by its
tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import logs, services
from chalicelib.api.routing import AWS_ERRORS, ROUTES, answer_error, native_error, route_of
from chalicelib.errors import Forbidden, Unauthorized

CHALLENGE = 'Bearer realm="beatless"'
#: Read-only routes that hold no data, open to a browser without a key: the console's page and
#: assets, the docs page, and the OpenAPI documents (every data call they lead to needs a key).
PUBLIC_PATHS = frozenset(
    {"/", "/console", "/console/{name}", "/docs", "/openapi", "/openapi/{name}", "/openapi.json"}
)


def key_from(headers: Any) -> str | None:
    """The API key from any of the accepted headers (header names are case-insensitive)."""
    authorization = headers.get("authorization") or ""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for name in ("x-api-key", "x-vitam-key", "dapr-api-token"):
        if headers.get(name):
            return str(headers.get(name)).strip()
    return None


def authenticate(event: Any, get_response: Callable[[Any], Response]) -> Response:
    path = event.context.get("resourcePath")
    doc = route_of(path, event.method)
    access = doc.access if doc else "user"
    # Each face answers in its own error shape, also for a method it does not serve.
    render = doc.render if doc else next((d.render for d in ROUTES if d.path == path), native_error)
    if access == "public" or (event.method == "GET" and path in PUBLIC_PATHS):
        return get_response(event)
    try:
        principal = services.keys().authenticate(key_from(event.headers))
    except Unauthorized as error:
        response = render(error)
        response.headers["WWW-Authenticate"] = CHALLENGE
        return response
    except AWS_ERRORS as error:  # the key table is unreachable: not the client's fault
        return answer_error(render, error)
    if access == "admin" and not principal.is_admin:
        return render(Forbidden("this route needs an admin key"))
    event.context["principal"] = principal
    logs.bind(tenant=principal.tenant)  # on every log line of the request from here on
    return get_response(event)
