"""Structured logs, deployed: one JSON object per line, each with the request id, tenant, job id
and run id of what is being handled (``null`` where there is none).

The ids live in a context variable, set where they become known and never passed through
arguments: the middleware around every function (the request id, the ids a direct invocation
names, a route's ids), authentication (the tenant), the worker for each SQS message, the
executor for each run. A scope restores what was there before when it ends.

JSON is switched on in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set) or by
``BEATLESS_LOG_FORMAT=json`` (``text`` forces it off); ``make run`` keeps its human console
(``chalicelib/local/console.py``), since nothing here changes a handler unless switched on.

Not Powertools' Logger: measured with ``python -X importtime`` on top of
``import chalicelib.worker``, ``from aws_lambda_powertools import Logger, Metrics`` adds 16-28 ms
(typing_extensions, its jmespath utilities, its tracer), about 5 % of ``import boto3``, which is
all of the worker's cold-start allowance (1.05x). This module imports nothing the app has not
already imported (json, logging, contextvars): under a millisecond.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

#: The ids on every line, in this order.
FIELDS = ("request_id", "tenant", "job_id", "run_id")
#: A route's path parameters that name a job or a run (Alteryx's "job" is a beatless run).
ROUTE_IDS = {"job_id": "job_id", "run_id": "run_id", "id_async": "run_id", "workflow_id": "job_id"}
ALTERYX_ROUTE_IDS = {"job_id": "run_id", "workflow_id": "job_id"}

_context: ContextVar[dict[str, str]] = ContextVar("beatless_log_context")
_IDS = "_beatless_log_ids"  # the attribute an exception carries its scope's ids in
_json = False
# Not under "beatless": that is Chalice's app logger (ERROR level, not propagating).
access_log = logging.getLogger("chalicelib.http")
runs_log = logging.getLogger("chalicelib.runs")
#: Libraries whose INFO lines are noise in a function's log (botocore: one per client built).
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3")
F = TypeVar("F", bound=Callable[..., Any])
#: A LogRecord's own attributes (the rest of its __dict__ is what ``extra=`` added).
_RECORD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "aws_request_id",  # the Lambda runtime's filter adds it to each record
}


def current() -> dict[str, str | None]:
    """The ids known here (each field, None where unknown)."""
    known = _context.get({})
    return {name: known.get(name) for name in FIELDS}


def _clean(fields: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in fields.items() if k in FIELDS and v not in (None, "")}


def bind(**fields: Any) -> None:
    """Add ids to the current scope (they go when the enclosing scope ends)."""
    _context.set({**_context.get({}), **_clean(fields)})


@contextmanager
def scope(**fields: Any) -> Iterator[None]:
    """The ids given, on top of those already known, until the block ends."""
    token = _context.set({**_context.get({}), **_clean(fields)})
    try:
        yield
    finally:
        _context.reset(token)


def ids_of(event: Any) -> dict[str, Any]:
    """The tenant, job id and run id an event or message body names."""
    if not isinstance(event, dict):
        return {}
    return {name: event.get(name) for name in ("tenant", "job_id", "run_id")}


def _remember(error: BaseException) -> None:
    """Leave the ids known where ``error`` was raised on it (the innermost scope's), so the
    line that logs it outside that scope (the worker's "message failed") still names them."""
    if getattr(error, _IDS, None) is None:
        with suppress(AttributeError):  # an exception type that takes no attributes
            setattr(error, _IDS, current())


def _scoped_by(ids: Callable[[Any], dict[str, Any]]) -> Callable[[F], F]:
    """Decorate a method ``(self, subject, ...)`` to run with ``ids(subject)`` bound."""

    def decorate(method: F) -> F:
        @wraps(method)
        def scoped(self: Any, subject: Any, *args: Any, **kwargs: Any) -> Any:
            with scope(**ids(subject)):
                try:
                    return method(self, subject, *args, **kwargs)
                except Exception as error:
                    _remember(error)
                    raise

        return scoped  # type: ignore[return-value]

    return decorate


#: A method ``(self, run, ...)`` runs with the run's tenant, job id and run id bound.
of_run = _scoped_by(lambda run: {"tenant": run.tenant, "job_id": run.job_id, "run_id": run.run_id})
#: A method ``(self, body, ...)`` runs with the ids its message body names bound.
of_message = _scoped_by(ids_of)


def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every function: a fresh scope with the invocation's request id
    and the ids its event names; for HTTP, one access line (JSON mode only)."""
    if not hasattr(event, "lambda_context"):  # not HTTP: a Lambda event (dict-like) or SQS/cron
        request_id = getattr(event.context, "aws_request_id", None)
        with scope(request_id=request_id, **ids_of(getattr(event, "event", None))):
            return get_response(event)
    request_id = getattr(event.lambda_context, "aws_request_id", None)
    path = (event.context or {}).get("resourcePath") or ""
    names = ALTERYX_ROUTE_IDS if path.startswith("/webapi/") else ROUTE_IDS
    ids = {names[k]: v for k, v in (event.uri_params or {}).items() if k in names}
    started = time.perf_counter()
    with scope(request_id=request_id or (event.context or {}).get("requestId"), **ids):
        response = get_response(event)
        if _json:
            access_log.info(
                "%s %s %s",
                event.method,
                path,
                response.status_code,
                extra={
                    "method": event.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
    return response


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the function, the four ids,
    whatever ``extra=`` added, and the exception's traceback if any."""

    def __init__(self) -> None:
        super().__init__()
        self.function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")

    def format(self, record: logging.LogRecord) -> str:
        ids = current()
        if ids["request_id"] is None:
            ids["request_id"] = getattr(record, "aws_request_id", None) or None
        raised = getattr(record.exc_info[1], _IDS, {}) if record.exc_info else {}
        for name, value in raised.items():  # where the exception came from, if not known here
            if ids.get(name) is None:
                ids[name] = value
        line: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "function": self.function,
            **ids,
        }
        for key, value in vars(record).items():
            if key not in _RECORD and key not in line and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stdout`` (so a test's capture sees it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def json_wanted(env: dict[str, str] | None = None) -> bool:
    """``BEATLESS_LOG_FORMAT`` (``json`` or ``text``) if set, else whether this is Lambda."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    chosen = (env.get("BEATLESS_LOG_FORMAT") or "").strip().lower()
    if chosen in ("json", "text"):
        return chosen == "json"
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def configure(*loggers: logging.Logger) -> bool:
    """Switch to JSON lines if wanted (see ``json_wanted``): the root logger's handlers (the
    Lambda runtime's; one on stdout if it has none) and those of ``loggers`` (Chalice's app
    logger does not propagate) get the JSON formatter; the root level is INFO, or
    ``AWS_LAMBDA_LOG_LEVEL`` (botocore's and urllib3's WARNING). Returns whether JSON is on."""
    global _json
    if not json_wanted():
        return False
    _json = True
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(StdoutHandler())
    formatter = JsonFormatter()
    for logger in (root, *loggers):
        for handler in logger.handlers:
            handler.setFormatter(formatter)
    root.setLevel((os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "INFO").upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return True


def observe(event: str, run: Any, **details: Any) -> None:
    """The executor's observer, deployed: one line per attempt's outcome (the deployed twin of
    ``make run``'s console line), with its status, attempt, duration and queue as fields."""
    if event != "end":
        return
    started, ended = details.get("started_at"), details["ended_at"]
    took = (ended - started).total_seconds() if started else None
    retry_at = details.get("retry_at")
    failed = details["status"] in ("FAILED", "TIMED_OUT") or retry_at is not None
    text = f"run {run.run_id} {details['status']}"
    text += f" in {took:.3f}s" if took is not None else ""
    text += f" (attempt {details['attempt']}" + (", retried)" if retry_at else ")")
    if details.get("why"):
        text += f": {details['why']}"
    runs_log.log(
        logging.WARNING if failed else logging.INFO,
        "%s",
        text,
        extra={
            "status": details["status"],
            "attempt": details["attempt"],
            "duration_ms": round(took * 1000, 1) if took is not None else None,
            "queue": run.queue,
            "retry_at": retry_at,
        },
    )
