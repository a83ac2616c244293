"""AWS targets: a Lambda function, an SQS queue, an EventBridge bus, a Step Functions state
machine, the common EventBridge Scheduler templated targets, called by the worker inside a run.

Each spec is checked when the job or run is made (a 400 naming ``target.<field>``), its payload
rendered with the run's placeholders at call time, and AWS's answer recorded on the run. AWS
errors that asking again can fix (throttling, 5xx, a timeout) are retryable under the job's
retry policy; the ones it cannot (access denied, no such resource, invalid input) fail the run
at once. Clients come from ``chalicelib.aws`` on first call, never at import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from chalicelib import aws
from chalicelib.errors import InvalidRequest
from chalicelib.settings import get_settings
from chalicelib.targets.base import TargetContext, TargetFailed, TargetType, register, render

KIB = 1024
#: Size caps of the serialised payload, the services' own limits. Lambda takes 6 MB
#: synchronously and 256 KiB asynchronously; one cap for both keeps a spec valid whichever
#: ``invocation`` it is switched to (and a job's spec lives in a DynamoDB item anyway).
LAMBDA_PAYLOAD_LIMIT = 256 * KIB
SQS_MESSAGE_LIMIT = 256 * KIB
EVENTBRIDGE_ENTRY_LIMIT = 256 * KIB
STEPFUNCTIONS_INPUT_LIMIT = 256 * KIB
#: How much of a function's response is recorded on the run.
RESPONSE_EXCERPT = 4 * KIB
#: A synchronous invoke waits for the function (at most 15 minutes): botocore must neither time
#: out first nor retry, or the function would run twice.
LAMBDA_READ_TIMEOUT = 905

_PARTITION = r"aws(?:-[a-z]+)*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_QUALIFIER = r"(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?"
LAMBDA_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,64}}{_QUALIFIER}$")
LAMBDA_ARN = re.compile(
    rf"^arn:{_PARTITION}:lambda:(?P<region>{_REGION}):\d{{12}}:function:[A-Za-z0-9_-]{{1,64}}"
    rf"{_QUALIFIER}$"
)
SQS_PATH = re.compile(r"^/\d{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?$")
SQS_HOST = re.compile(
    rf"^(?:sqs\.(?P<region>{_REGION})\.amazonaws\.com(?:\.cn)?"
    rf"|(?P<legacy>{_REGION})\.queue\.amazonaws\.com)$"
)
BUS_NAME = re.compile(r"^[A-Za-z0-9._/-]{1,256}$")
BUS_ARN = re.compile(
    rf"^arn:{_PARTITION}:events:(?P<region>{_REGION}):\d{{12}}:event-bus/[A-Za-z0-9._/-]{{1,256}}$"
)
STATE_MACHINE_ARN = re.compile(
    rf"^arn:{_PARTITION}:states:(?P<region>{_REGION}):\d{{12}}:stateMachine:"
    r"[A-Za-z0-9_-]{1,80}(?::[A-Za-z0-9_-]{1,80})?$"
)
FIFO_TOKEN = re.compile(r"^[\x21-\x7e]{1,128}$")

#: AWS error codes that asking again cannot fix, whatever their HTTP status.
PERMANENT_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ResourceNotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
        "InvalidArn",
        "InvalidName",
        "InvalidExecutionInput",
        "ValidationException",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidRequestContentException",
        "RequestTooLargeException",
        "InvalidMessageContents",
        "UnsupportedOperation",
        "KMSAccessDeniedException",
        "KMSNotFoundException",
        "KMSDisabledException",
        "EC2AccessDeniedException",
        "InvalidRuntimeException",
    }
)
#: AWS error codes that are worth asking again, whatever their HTTP status.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ProvisionedThroughputExceededException",
        "KMSThrottlingException",
        "EC2ThrottledException",
        "ServiceUnavailable",
        "ServiceException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ResourceNotReadyException",  # a function still being created
        "ResourceConflictException",  # a function being updated
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


# ---------------------------------------------------------------------------------------------
# Shared checks and the error mapping


def _spec_of(spec: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
    unknown = sorted(set(spec) - fields - {"type"})
    if unknown:
        raise InvalidRequest(f"target.{unknown[0]}", "is not a field of this target type")
    return dict(spec)


def _string(spec: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    value = spec.get(field)
    if value is None:
        if required:
            raise InvalidRequest(f"target.{field}", "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"target.{field}", "must be a non-empty string")
    return value


def _capped(
    field: str, value: Any, limit: int, service: str, as_sent: Callable[[Any], str] | None = None
) -> None:
    """``value`` as sent (``as_sent``, default JSON) is within the service's cap; a value JSON
    cannot carry is a 400 too."""
    try:
        size = len((as_sent or _serialise)(value).encode())
    except (TypeError, ValueError) as error:
        raise InvalidRequest(f"target.{field}", f"must be JSON ({error})") from None
    if size > limit:
        raise InvalidRequest(
            f"target.{field}", f"is {size} bytes; {service} takes at most {limit // KIB} KiB"
        )


def _serialise(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _body(value: Any) -> str:
    """A text body as given; any other JSON value serialised."""
    return value if isinstance(value, str) else _serialise(value)


def _rendered(ctx: TargetContext, value: Any, limit: int, service: str) -> Any:
    """``value`` with the run's placeholders, still within the cap (a placeholder expands)."""
    value = render(value, ctx)
    size = len(_body(value).encode())
    if size > limit:
        raise TargetFailed(
            f"{service} payload is {size} bytes once rendered; the limit is {limit // KIB} KiB",
            retryable=False,
        )
    return value


def _region_of(pattern: re.Pattern[str], value: str) -> str | None:
    match = pattern.match(value)
    return match.group("region") if match else None


def failure(service: str, operation: str, error: Exception) -> TargetFailed:
    """``error`` from botocore as a TargetFailed, retryable when asking again may succeed:
    throttling, a 5xx, a network failure; not for a denied call, a missing resource or input
    the service refuses (4xx)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in PERMANENT_CODES:
            retryable = False
        elif code in TRANSIENT_CODES or status >= 500 or status == 429:
            retryable = True
        else:
            retryable = not 400 <= status < 500
        text = details.get("Message") or str(error)
        return TargetFailed(f"{service} {operation}: {code or status}: {text}", retryable=retryable)
    if isinstance(error, ParamValidationError):
        return TargetFailed(f"{service} {operation}: {error}", retryable=False)
    return TargetFailed(f"{service} {operation}: {type(error).__name__}: {error}", retryable=True)


def _calling(service: str, operation: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ClientError, BotoCoreError) as error:
        raise failure(service, operation, error) from error


def _no(field: str, rule: str) -> NoReturn:
    raise InvalidRequest(f"target.{field}", rule)


# ---------------------------------------------------------------------------------------------
# Lambda


def validate_lambda(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = _spec_of(spec, {"function", "payload", "invocation"})
    function = _string(spec, "function")
    assert function is not None
    if not (LAMBDA_NAME.match(function) or LAMBDA_ARN.match(function)):
        _no("function", "must be a function name (name[:qualifier]) or a function ARN")
    worker = get_settings().worker_arn.rsplit(":", 1)[-1]
    if function.split(":function:")[-1].split(":")[0] == worker:
        _no("function", "names beatless's own worker")
    invocation = spec.get("invocation", "RequestResponse")
    if invocation not in ("RequestResponse", "Event"):
        _no("invocation", "must be one of RequestResponse, Event")
    payload = spec.get("payload", {})
    _capped("payload", payload, LAMBDA_PAYLOAD_LIMIT, "Lambda")
    out.update(type="lambda", function=function, invocation=invocation, payload=payload)
    return out


def lambda_client(function: str) -> Any:
    """The Lambda client of the function's region: no botocore retry, a read timeout past
    Lambda's 15 minutes (see LAMBDA_READ_TIMEOUT)."""
    settings = get_settings()
    return aws.client_for(
        "lambda",
        settings,
        region=_region_of(LAMBDA_ARN, function),
        read_timeout=LAMBDA_READ_TIMEOUT,
        attempts=1,
    )


def call_lambda(ctx: TargetContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    function, invocation = spec["function"], spec.get("invocation", "RequestResponse")
    payload = _rendered(ctx, spec.get("payload", {}), LAMBDA_PAYLOAD_LIMIT, "Lambda")
    client = lambda_client(function)
    answer = _calling(
        "lambda",
        "Invoke",
        lambda: client.invoke(
            FunctionName=function,
            InvocationType=invocation,
            Payload=_serialise(payload).encode(),
        ),
    )
    result: dict[str, Any] = {"function": function, "status_code": answer.get("StatusCode")}
    if invocation == "Event":
        ctx.log(f"lambda {function}: queued asynchronously ({answer.get('StatusCode')})")
        return result
    raw = answer["Payload"].read() if answer.get("Payload") is not None else b""
    result["executed_version"] = answer.get("ExecutedVersion")
    result.update(_excerpt(raw))
    if answer.get("FunctionError"):
        shown = result.get("response", result.get("response_text", ""))
        raise TargetFailed(
            f"lambda {function}: function error ({answer['FunctionError']}): "
            f"{_body(shown)[:RESPONSE_EXCERPT]}",
            retryable=True,
        )
    version = f" (version {result['executed_version']})" if result["executed_version"] else ""
    ctx.log(f"lambda {function}: {answer.get('StatusCode')}{version}")
    return result


def _excerpt(raw: bytes) -> dict[str, Any]:
    """The function's response as recorded: its JSON when small, else a bounded text excerpt."""
    out: dict[str, Any] = {"response_bytes": len(raw)}
    if len(raw) <= RESPONSE_EXCERPT:
        try:
            out["response"] = json.loads(raw) if raw else None
            return out
        except ValueError:
            pass
    out["response_text"] = raw[:RESPONSE_EXCERPT].decode(errors="replace")
    out["response_truncated"] = len(raw) > RESPONSE_EXCERPT
    return out


# ---------------------------------------------------------------------------------------------
# SQS


def validate_sqs(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = _spec_of(spec, {"queue_url", "message", "message_group_id"})
    url = _string(spec, "queue_url")
    assert url is not None
    if not _queue_url_ok(url):
        _no(
            "queue_url",
            "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)",
        )
    if _internal_queue(url):
        _no("queue_url", "names one of beatless's own queues")
    if "message" not in spec or spec["message"] is None:
        _no("message", "is required")
    _capped("message", spec["message"], SQS_MESSAGE_LIMIT, "SQS", _body)
    group = _string(spec, "message_group_id", required=url.endswith(".fifo"))
    if url.endswith(".fifo") and group is None:
        _no("message_group_id", "is required for a FIFO queue")
    if group is not None and not FIFO_TOKEN.match(group):
        _no("message_group_id", "must be 1-128 printable ASCII characters, without spaces")
    out.update(type="sqs", queue_url=url, message=spec["message"])
    return out


def _queue_url_ok(url: str) -> bool:
    """An AWS queue URL; under ``make run`` also a queue URL of the local endpoint."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or not SQS_PATH.match(parts.path):
        return False
    if parts.scheme == "https" and SQS_HOST.match(parts.hostname or ""):
        return True
    local = get_settings().endpoint_url
    return bool(local) and f"{parts.scheme}://{parts.netloc}" == local.rstrip("/")


def _internal_queue(url: str) -> bool:
    """Whether the URL names a queue of beatless itself (the worker's own policy may send to
    them): a target must not forge worker messages."""
    settings = get_settings()
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith(settings.queue_prefix) or name in (
        settings.failed_queue,
        settings.scheduler_dlq_name,
    )


def _queue_region(url: str) -> str | None:
    match = SQS_HOST.match(urlsplit(url).hostname or "")
    return (match.group("region") or match.group("legacy")) if match else None


def call_sqs(ctx: TargetContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    url = spec["queue_url"]
    if _internal_queue(url):
        raise TargetFailed("sqs: the queue is one of beatless's own", retryable=False)
    body = _body(_rendered(ctx, spec["message"], SQS_MESSAGE_LIMIT, "SQS"))
    params: dict[str, Any] = {"QueueUrl": url, "MessageBody": body}
    if spec.get("message_group_id"):
        params["MessageGroupId"] = render(spec["message_group_id"], ctx)
    if url.endswith(".fifo"):
        # A duplicate delivery of the same attempt within SQS's 5 minutes is dropped.
        params["MessageDeduplicationId"] = f"{ctx.run_id}-{ctx.attempt}"
    client = aws.client_for("sqs", get_settings(), region=_queue_region(url))
    answer = _calling("sqs", "SendMessage", lambda: client.send_message(**params))
    result = {"queue_url": url, "message_id": answer["MessageId"]}
    if answer.get("SequenceNumber"):
        result["sequence_number"] = answer["SequenceNumber"]
    ctx.log(f"sqs {url}: sent message {answer['MessageId']}")
    return result


# ---------------------------------------------------------------------------------------------
# EventBridge


def validate_eventbridge(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = _spec_of(spec, {"bus", "source", "detail_type", "detail"})
    bus = _string(spec, "bus", required=False) or "default"
    if not (BUS_ARN.match(bus) or BUS_NAME.match(bus)):
        _no("bus", "must be an event bus name or ARN")
    source = _string(spec, "source")
    assert source is not None
    if len(source) > 256:
        _no("source", "is at most 256 characters")
    if source.startswith("aws."):
        _no("source", "must not start with aws. (reserved for AWS services)")
    detail_type = _string(spec, "detail_type")
    assert detail_type is not None
    if len(detail_type) > 128:
        _no("detail_type", "is at most 128 characters")
    detail = spec.get("detail", {})
    if not isinstance(detail, Mapping):
        _no("detail", "must be a JSON object")
    entry = {"Source": source, "DetailType": detail_type, "Detail": detail, "EventBusName": bus}
    _capped("detail", entry, EVENTBRIDGE_ENTRY_LIMIT, "EventBridge")
    out.update(type="eventbridge", bus=bus, source=source, detail_type=detail_type, detail=detail)
    return out


def call_eventbridge(ctx: TargetContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    bus = spec.get("bus") or "default"
    detail = _rendered(ctx, spec.get("detail", {}), EVENTBRIDGE_ENTRY_LIMIT, "EventBridge")
    entry = {
        "EventBusName": bus,
        "Source": render(spec["source"], ctx),
        "DetailType": render(spec["detail_type"], ctx),
        "Detail": _serialise(detail),
        "Resources": [],
    }
    client = aws.client_for("events", get_settings(), region=_region_of(BUS_ARN, bus))
    answer = _calling("events", "PutEvents", lambda: client.put_events(Entries=[entry]))
    (outcome,) = answer.get("Entries") or [{}]
    if answer.get("FailedEntryCount") or outcome.get("ErrorCode"):
        code = outcome.get("ErrorCode", "")
        # InternalFailure/ThrottlingException per entry: ask again; anything else will not pass.
        retryable = code in TRANSIENT_CODES or not code
        raise TargetFailed(
            f"events PutEvents: entry refused: {code}: {outcome.get('ErrorMessage', '')}",
            retryable=retryable,
        )
    ctx.log(f"eventbridge {bus}: put event {outcome.get('EventId')}")
    return {"bus": bus, "event_id": outcome.get("EventId")}


# ---------------------------------------------------------------------------------------------
# Step Functions


def validate_stepfunctions(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = _spec_of(spec, {"state_machine_arn", "input"})
    arn = _string(spec, "state_machine_arn")
    assert arn is not None
    if not STATE_MACHINE_ARN.match(arn):
        _no(
            "state_machine_arn",
            "must be a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
        )
    value = spec.get("input", {})
    _capped("input", value, STEPFUNCTIONS_INPUT_LIMIT, "Step Functions")
    out.update(type="stepfunctions", state_machine_arn=arn, input=value)
    return out


def execution_name(ctx: TargetContext) -> str:
    """One execution per run attempt: a second delivery of the same attempt names the same
    execution, which Step Functions will not start twice."""
    return f"beatless-{ctx.run_id}-{ctx.attempt}"[:80]


def execution_arn(state_machine_arn: str, name: str) -> str:
    prefix, machine = state_machine_arn.split(":stateMachine:", 1)
    return f"{prefix}:execution:{machine.split(':', 1)[0]}:{name}"


def call_stepfunctions(ctx: TargetContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    arn = spec["state_machine_arn"]
    value = _rendered(ctx, spec.get("input", {}), STEPFUNCTIONS_INPUT_LIMIT, "Step Functions")
    name = execution_name(ctx)
    client = aws.client_for(
        "stepfunctions", get_settings(), region=_region_of(STATE_MACHINE_ARN, arn)
    )
    try:
        answer = client.start_execution(stateMachineArn=arn, name=name, input=_serialise(value))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise failure("stepfunctions", "StartExecution", error) from error
        ctx.log(f"stepfunctions {arn}: execution {name} was already started")
        return {"execution_arn": execution_arn(arn, name), "already_started": True}
    except BotoCoreError as error:
        raise failure("stepfunctions", "StartExecution", error) from error
    started = answer.get("startDate")
    ctx.log(f"stepfunctions {arn}: started {answer['executionArn']}")
    return {
        "execution_arn": answer["executionArn"],
        "start_date": started.isoformat() if isinstance(started, datetime) else started,
    }


LAMBDA = register(TargetType("lambda", validate_lambda, call_lambda))
SQS = register(TargetType("sqs", validate_sqs, call_sqs))
EVENTBRIDGE = register(TargetType("eventbridge", validate_eventbridge, call_eventbridge))
STEPFUNCTIONS = register(TargetType("stepfunctions", validate_stepfunctions, call_stepfunctions))
