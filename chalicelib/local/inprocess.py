"""``make run``'s own AWS calls reach moto in-process, not over loopback HTTP.

The runtime's API server, stand-ins and worker run in the process that holds moto's backends,
yet each of their calls went out as an HTTP request to moto's server on 127.0.0.1: a new TCP
connection whenever botocore's pool of 10 was exhausted by the 32 worker threads, a server
thread per connection, and the server's dispatch on top. Profiling a burst of 200 fires
(issue 17) showed most of the runtime's time there, not in moto's work.

A botocore ``before-send`` handler (the hook moto's own ``mock_aws`` uses) answers every
request addressed to the local endpoint by calling the same WSGI application the server runs
(``state.GatedApp``) in the calling thread, so each call still passes the snapshot gate, still
marks the state changed and still wakes the SQS event sources, exactly as it did over HTTP.
Requests to any other address are left to botocore. Clients outside the process (the AWS CLI,
the keys command, tests) still use moto's server, which is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("local-runtime")

#: What botocore's handler list holds while installed (one at a time).
_installed: list[tuple[str, Callable[..., Any]]] = []


class InProcess:
    """The ``before-send`` handler: a request to ``endpoint`` is answered by ``app``."""

    def __init__(self, app: Callable[..., Any], endpoint: str) -> None:
        self._app = app
        self._prefix = endpoint.rstrip("/") + "/"
        self._endpoint = endpoint.rstrip("/")
        self.calls = 0  # how many requests were answered in-process (for the tests)

    def __call__(self, request: Any, **_: Any) -> Any:
        url = request.url
        if url != self._endpoint and not url.startswith(self._prefix):
            return None  # not moto's: botocore sends it
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        body = request.body
        if body is None:
            body = b""
        elif hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        parts = urlsplit(url)
        headers = [
            (name, value.decode("utf-8") if isinstance(value, bytes) else str(value))
            for name, value in request.headers.items()
        ]
        environ = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            headers=headers,
            input_stream=BytesIO(body),
        ).get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        self.calls += 1
        try:
            chunks, status, answer_headers = run_wsgi_app(self._app, environ)
            try:
                content = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception:
            # What moto's server answers for an error in moto itself (botocore retries a 500).
            log.exception("emulated AWS failed on %s %s", request.method, url)
            return AWSResponse(url, 500, {}, MockRawResponse(b"internal error in moto"))
        return AWSResponse(
            url, int(status.split(" ", 1)[0]), dict(answer_headers), MockRawResponse(content)
        )


def install(app: Callable[..., Any], endpoint: str) -> Callable[[], None]:
    """Answer this process's requests to ``endpoint`` with ``app``; returns the undo. Only
    botocore sessions created after this see it (``make run`` installs it before any client:
    boto3's and PynamoDB's sessions both start from botocore's built-in handlers)."""
    from botocore.handlers import BUILTIN_HANDLERS

    if _installed:
        raise RuntimeError("in-process routing is installed already")
    entry = ("before-send", InProcess(app, endpoint))
    BUILTIN_HANDLERS.append(entry)
    _installed.append(entry)

    def undo() -> None:
        if entry in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(entry)
        if entry in _installed:
            _installed.remove(entry)

    return undo
