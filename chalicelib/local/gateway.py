"""Chalice's local gateway, answering an unknown route with a JSON 404 instead of API Gateway's
403 "Missing Authentication Token" (the deployed API maps that gateway response to the same 404).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from chalice.local import ForbiddenError, LocalGateway, LocalGatewayException
from chalice.test import Client


class RouteNotFound(LocalGatewayException):
    CODE = 404


def not_found_body(path: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "not_found",
                "message": f"no route for {path.split('?')[0]}",
                "details": {},
            }
        }
    ).encode()


#: Chalice keeps the request being handled on the app object (``app.current_request``), which
#: is right in Lambda (one request per container at a time) and wrong for a threaded server:
#: two requests at once would read each other's body and principal. One at a time, then.
_ONE_REQUEST_AT_A_TIME = threading.Lock()


class BeatlessLocalGateway(LocalGateway):
    def handle_request(self, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            with _ONE_REQUEST_AT_A_TIME:
                return super().handle_request(method, path, headers, body)
        except ForbiddenError as error:
            if b"Missing Authentication Token" not in (
                error.body or b""
            ) and b"Authorization header requires" not in (error.body or b""):
                raise
            raise RouteNotFound(
                {"Content-Type": "application/json"}, not_found_body(path)
            ) from None


def test_client(app: Any) -> Client:
    """``chalice.test.Client`` with beatless's gateway, so tests see what ``make run`` serves."""
    client = Client(app)
    client.http._local_gateway = BeatlessLocalGateway(app, client.http._config)
    return client


test_client.__test__ = False  # type: ignore[attr-defined]
