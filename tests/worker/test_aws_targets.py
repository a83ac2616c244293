"""The AWS target types called directly, as the worker calls them, against moto: the message,
event, execution and invocation really arrive with the run's placeholders rendered; bad specs
are 400s naming the field; AWS errors map to retryable or not (issue 14)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ParamValidationError
from botocore.stub import Stubber
from moto.core.config import default_user_config

from chalicelib.errors import InvalidRequest
from chalicelib.targets import TargetFailed, get
from chalicelib.targets import aws as targets_aws

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
RUN_ID = "01jabcdefghjkmnpqrstvwxyz0"
SCHEDULED = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
PAYLOAD = {
    "run": "<beatless.run-id>",
    "job": "<beatless.job-id>",
    "at": "<aws.scheduler.scheduled-time>",
    "attempt": "<beatless.attempt>",
    "static": [1, True, None],
}
RENDERED = {
    "run": RUN_ID,
    "job": "job-1",
    "at": "2025-03-04T09:00:00.000Z",
    "attempt": "2",
    "static": [1, True, None],
}


@dataclass
class Context:
    """The part of a task context a target call uses."""

    tenant: str = "default"
    run_id: str = RUN_ID
    job_id: str | None = "job-1"
    attempt: int = 2
    scheduled_time: Any = SCHEDULED
    logged: list[str] = field(default_factory=list)

    def log(self, text: str, level: str = "INFO") -> None:
        self.logged.append(text)

    def remaining_seconds(self) -> float:
        return 600.0


def call(spec: dict[str, Any], ctx: Context | None = None) -> Any:
    """Validate then call, as a job made through the API then run by the worker would."""
    target_type = get(spec["type"])
    assert target_type is not None
    return target_type.call(ctx or Context(), target_type.validate(spec))


def invalid(spec: dict[str, Any]) -> InvalidRequest:
    target_type = get(spec["type"])
    assert target_type is not None
    with pytest.raises(InvalidRequest) as caught:
        target_type.validate(spec)
    return caught.value


def client_error(code: str, status: int, operation: str = "Invoke") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code}!"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def simple_lambda(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's Lambda without Docker: Invoke answers with the payload it was sent."""
    monkeypatch.setitem(default_user_config, "lambda", {"use_docker": False})
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(
        FunctionName="echo-fn",
        Runtime="python3.11",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
    )
    return client


# --------------------------------------------------------------------------------- SQS


def test_sqs_message_arrives_with_placeholders_rendered(sqs):
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    ctx = Context()
    result = call({"type": "sqs", "queue_url": url, "message": PAYLOAD}, ctx)
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == RENDERED
    assert result == {"queue_url": url, "message_id": message["MessageId"]}
    assert ctx.logged == [f"sqs {url}: sent message {message['MessageId']}"]


def test_sqs_text_message_is_sent_as_is(sqs):
    url = sqs.create_queue(QueueName="texts")["QueueUrl"]
    call({"type": "sqs", "queue_url": url, "message": "run <beatless.run-id> now"})
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == f"run {RUN_ID} now"


def test_sqs_fifo_queue_gets_group_and_one_message_per_attempt(sqs):
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    spec = {"type": "sqs", "queue_url": url, "message": {"n": 1}, "message_group_id": "g-1"}
    first = call(spec)
    again = call(spec)  # a duplicate delivery of the same attempt
    assert first["sequence_number"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]
    assert len(messages) == 1
    assert messages[0]["Attributes"]["MessageGroupId"] == "g-1"
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == f"{RUN_ID}-2"
    assert again["message_id"]  # accepted, and dropped by SQS as a duplicate


def test_sqs_missing_queue_is_not_retryable(sqs):
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/nowhere"
    with pytest.raises(TargetFailed) as caught:
        call({"type": "sqs", "queue_url": url, "message": "x"})
    assert caught.value.retryable is False
    assert "NonExistentQueue" in str(caught.value) or "QueueDoesNotExist" in str(caught.value)


# ----------------------------------------------------------------------------- EventBridge


def test_eventbridge_event_arrives_through_a_rule_with_placeholders_rendered(sqs):
    events = boto3.client("events", region_name=REGION)
    bus = events.create_event_bus(Name="orders-bus")["EventBusArn"]
    url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="tap", EventBusName="orders-bus", EventPattern=json.dumps({"source": ["shop"]})
    )
    events.put_targets(
        Rule="tap", EventBusName="orders-bus", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    result = call(
        {
            "type": "eventbridge",
            "bus": bus,
            "source": "shop",
            "detail_type": "tick <beatless.attempt>",
            "detail": PAYLOAD,
        }
    )
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    event = json.loads(message["Body"])
    assert event["source"] == "shop"
    assert event["detail-type"] == "tick 2"
    assert event["detail"] == RENDERED
    assert event["id"] == result["event_id"]
    assert result["bus"] == bus


def test_eventbridge_defaults_to_the_default_bus(sqs):
    spec = get("eventbridge").validate(  # type: ignore[union-attr]
        {"type": "eventbridge", "source": "shop", "detail_type": "t"}
    )
    assert spec["bus"] == "default" and spec["detail"] == {}
    assert call(spec)["event_id"]


def test_eventbridge_failed_entry_is_a_failure(monkeypatch):
    class Refusing:
        def put_events(self, Entries: Any) -> dict[str, Any]:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "bad"}],
            }

    monkeypatch.setattr(targets_aws.aws, "client_for", lambda *a, **k: Refusing())
    with pytest.raises(TargetFailed, match="MalformedDetail") as caught:
        call({"type": "eventbridge", "source": "shop", "detail_type": "t"})
    assert caught.value.retryable is False


def test_eventbridge_throttled_entry_is_retryable(monkeypatch):
    class Throttled:
        def put_events(self, Entries: Any) -> dict[str, Any]:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}],
            }

    monkeypatch.setattr(targets_aws.aws, "client_for", lambda *a, **k: Throttled())
    with pytest.raises(TargetFailed) as caught:
        call({"type": "eventbridge", "source": "shop", "detail_type": "t"})
    assert caught.value.retryable is True


# --------------------------------------------------------------------------- Step Functions


@pytest.fixture
def state_machine(aws: None) -> str:
    return boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="reports",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]


def test_stepfunctions_execution_starts_with_input_rendered(state_machine):
    result = call({"type": "stepfunctions", "state_machine_arn": state_machine, "input": PAYLOAD})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.describe_execution(executionArn=result["execution_arn"])
    assert json.loads(execution["input"]) == RENDERED
    assert execution["name"] == f"beatless-{RUN_ID}-2"
    assert result["execution_arn"] == targets_aws.execution_arn(
        state_machine, f"beatless-{RUN_ID}-2"
    )
    assert datetime.fromisoformat(result["start_date"])


def test_stepfunctions_duplicate_delivery_does_not_start_a_second_execution(state_machine):
    spec = {"type": "stepfunctions", "state_machine_arn": state_machine, "input": {"a": 1}}
    first = call(spec)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=first["execution_arn"])  # closed: a rerun is refused
    again = call(spec)
    assert again == {"execution_arn": first["execution_arn"], "already_started": True}
    assert len(sfn.list_executions(stateMachineArn=state_machine)["executions"]) == 1
    call(spec, Context(attempt=3))  # a retry is a new attempt, so a new execution
    assert len(sfn.list_executions(stateMachineArn=state_machine)["executions"]) == 2


def test_stepfunctions_missing_state_machine_is_not_retryable(aws):
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gone"
    with pytest.raises(TargetFailed, match="StateMachineDoesNotExist") as caught:
        call({"type": "stepfunctions", "state_machine_arn": arn})
    assert caught.value.retryable is False


# ---------------------------------------------------------------------------------- Lambda


def test_lambda_request_response_records_status_version_and_response(simple_lambda):
    ctx = Context()
    result = call({"type": "lambda", "function": "echo-fn", "payload": PAYLOAD}, ctx)
    # moto's Lambda without Docker answers with the payload it received: the rendered one.
    assert result["response"] == RENDERED
    assert result["status_code"] == 200
    assert "executed_version" in result  # moto leaves the header out; the stubbed tests set it
    assert result["function"] == "echo-fn"
    assert ctx.logged == ["lambda echo-fn: 200"]


def test_lambda_event_invocation_records_the_202(simple_lambda):
    arn = simple_lambda.get_function(FunctionName="echo-fn")["Configuration"]["FunctionArn"]
    result = call({"type": "lambda", "function": arn, "invocation": "Event", "payload": {}})
    assert result == {"function": arn, "status_code": 202}


@pytest.fixture
def stubbed_lambda(aws: None) -> Iterator[Stubber]:
    """A Stubber on the very client the target uses (the cached one from chalicelib.aws)."""
    client = targets_aws.lambda_client("fn")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_lambda_client_neither_retries_nor_times_out_before_lambda(aws):
    client = targets_aws.lambda_client("fn")
    assert client.meta.config.read_timeout > 900
    assert client.meta.config.retries["total_max_attempts"] == 1
    arn = f"arn:aws:lambda:eu-west-3:{ACCOUNT}:function:fn"
    assert targets_aws.lambda_client(arn).meta.region_name == "eu-west-3"


def test_lambda_function_error_is_a_retryable_failure(stubbed_lambda):
    stubbed_lambda.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "ExecutedVersion": "7",
            "Payload": io.BytesIO(b'{"errorMessage": "boom", "errorType": "ValueError"}'),
        },
        {"FunctionName": "fn", "InvocationType": "RequestResponse", "Payload": b"{}"},
    )
    with pytest.raises(TargetFailed, match=r"function error \(Unhandled\).*boom") as caught:
        call({"type": "lambda", "function": "fn"})
    assert caught.value.retryable is True


def test_lambda_records_the_version_that_ran(stubbed_lambda):
    stubbed_lambda.add_response(
        "invoke",
        {"StatusCode": 200, "ExecutedVersion": "7", "Payload": io.BytesIO(b'"ok"')},
        {"FunctionName": "fn:live", "InvocationType": "RequestResponse", "Payload": b"{}"},
    )
    ctx = Context()
    result = call({"type": "lambda", "function": "fn:live"}, ctx)
    assert result == {
        "function": "fn:live",
        "status_code": 200,
        "executed_version": "7",
        "response_bytes": 4,
        "response": "ok",
    }
    assert ctx.logged == ["lambda fn:live: 200 (version 7)"]


def test_lambda_large_response_is_recorded_as_a_bounded_excerpt(stubbed_lambda):
    big = json.dumps({"rows": "x" * 10_000}).encode()
    stubbed_lambda.add_response(
        "invoke", {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": io.BytesIO(big)}
    )
    result = call({"type": "lambda", "function": "fn"})
    assert result["response_bytes"] == len(big)
    assert result["response_truncated"] is True
    assert len(result["response_text"]) == targets_aws.RESPONSE_EXCERPT
    assert "response" not in result


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("TooManyRequestsException", 429, True),
        ("ServiceException", 500, True),
        ("EC2ThrottledException", 502, True),
        ("ResourceConflictException", 409, True),
        ("SomethingNew", 503, True),
        ("AccessDeniedException", 403, False),
        ("ResourceNotFoundException", 404, False),
        ("InvalidRequestContentException", 400, False),
        ("RequestTooLargeException", 413, False),
        ("KMSAccessDeniedException", 502, False),
        ("SomethingElse", 400, False),
    ],
)
def test_lambda_aws_errors_map_to_retryable_or_not(stubbed_lambda, code, status, retryable):
    stubbed_lambda.add_client_error(
        "invoke", service_error_code=code, service_message="no", http_status_code=status
    )
    with pytest.raises(TargetFailed, match=code) as caught:
        call({"type": "lambda", "function": "fn"})
    assert caught.value.retryable is retryable


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("AccessDenied", 403), False),
        (client_error("ExecutionLimitExceeded", 400), False),
        (client_error("InternalFailure", 500), True),
        (ConnectTimeoutError(endpoint_url="https://x"), True),
        (ParamValidationError(report="bad"), False),
    ],
)
def test_botocore_errors_map_to_retryable_or_not(error, retryable):
    assert targets_aws.failure("svc", "Op", error).retryable is retryable


# ------------------------------------------------------------------------------ validation


GOOD_QUEUE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"
GOOD_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "lambda"}, "target.function"),
        ({"type": "lambda", "function": ""}, "target.function"),
        ({"type": "lambda", "function": 7}, "target.function"),
        ({"type": "lambda", "function": "has space"}, "target.function"),
        ({"type": "lambda", "function": "arn:aws:s3:::bucket"}, "target.function"),
        ({"type": "lambda", "function": "f", "invocation": "DryRun"}, "target.invocation"),
        ({"type": "lambda", "function": "f", "payload": {"x": "y" * 300_000}}, "target.payload"),
        ({"type": "lambda", "function": "f", "payload": {1, 2}}, "target.payload"),
        ({"type": "lambda", "function": "f", "url": "x"}, "target.url"),
        ({"type": "sqs", "message": "x"}, "target.queue_url"),
        (
            {"type": "sqs", "queue_url": "http://example.com/1/q", "message": "x"},
            "target.queue_url",
        ),
        (
            {
                "type": "sqs",
                "queue_url": f"http://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q",
                "message": "x",
            },
            "target.queue_url",
        ),
        ({"type": "sqs", "queue_url": f"{GOOD_QUEUE}/extra", "message": "x"}, "target.queue_url"),
        ({"type": "sqs", "queue_url": GOOD_QUEUE}, "target.message"),
        (
            {"type": "sqs", "queue_url": f"{GOOD_QUEUE[:-1]}beatless-high", "message": "x"},
            "target.queue_url",
        ),
        (
            {"type": "sqs", "queue_url": f"{GOOD_QUEUE[:-1]}beatless-failed", "message": "x"},
            "target.queue_url",
        ),
        ({"type": "lambda", "function": "beatless-worker"}, "target.function"),
        (
            {
                "type": "lambda",
                "function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:beatless-worker:1",
            },
            "target.function",
        ),
        ({"type": "sqs", "queue_url": GOOD_QUEUE, "message": "y" * 262_145}, "target.message"),
        (
            {"type": "sqs", "queue_url": f"{GOOD_QUEUE}.fifo", "message": "x"},
            "target.message_group_id",
        ),
        (
            {
                "type": "sqs",
                "queue_url": f"{GOOD_QUEUE}.fifo",
                "message": "x",
                "message_group_id": "a b",
            },
            "target.message_group_id",
        ),
        ({"type": "eventbridge", "detail_type": "t"}, "target.source"),
        ({"type": "eventbridge", "source": "aws.ec2", "detail_type": "t"}, "target.source"),
        ({"type": "eventbridge", "source": "s"}, "target.detail_type"),
        (
            {"type": "eventbridge", "source": "s", "detail_type": "t", "detail": [1]},
            "target.detail",
        ),
        ({"type": "eventbridge", "source": "s", "detail_type": "t", "bus": "a b"}, "target.bus"),
        (
            {
                "type": "eventbridge",
                "source": "s",
                "detail_type": "t",
                "detail": {"x": "y" * 262_144},
            },
            "target.detail",
        ),
        ({"type": "stepfunctions"}, "target.state_machine_arn"),
        ({"type": "stepfunctions", "state_machine_arn": "reports"}, "target.state_machine_arn"),
        (
            {
                "type": "stepfunctions",
                "state_machine_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:activity:a",
            },
            "target.state_machine_arn",
        ),
        (
            {"type": "stepfunctions", "state_machine_arn": GOOD_MACHINE, "input": "z" * 262_144},
            "target.input",
        ),
    ],
)
def test_bad_specs_are_400s_naming_the_field(spec, field):
    assert invalid(spec).field == field


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "lambda", "function": "my-fn"},
        {"type": "lambda", "function": "my-fn:prod", "invocation": "Event", "payload": [1]},
        {"type": "lambda", "function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:$LATEST"},
        {"type": "lambda", "function": f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:f"},
        {"type": "sqs", "queue_url": GOOD_QUEUE, "message": {"a": 1}},
        {
            "type": "sqs",
            "queue_url": f"https://eu-west-1.queue.amazonaws.com/{ACCOUNT}/q",
            "message": "",
        },
        {
            "type": "sqs",
            "queue_url": f"{GOOD_QUEUE}.fifo",
            "message": "x",
            "message_group_id": "<beatless.job-id>",
        },
        {
            "type": "eventbridge",
            "bus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/b",
            "source": "s",
            "detail_type": "t",
        },
        {"type": "stepfunctions", "state_machine_arn": GOOD_MACHINE, "input": "text"},
        {"type": "stepfunctions", "state_machine_arn": f"{GOOD_MACHINE}:prod"},
    ],
)
def test_good_specs_are_accepted_with_defaults(spec):
    normalised = get(spec["type"]).validate(spec)  # type: ignore[union-attr]
    assert normalised["type"] == spec["type"]
    if spec["type"] == "lambda":
        assert normalised["invocation"] == spec.get("invocation", "RequestResponse")
        assert normalised["payload"] == spec.get("payload", {})


def test_a_local_endpoint_queue_url_is_accepted_only_under_make_run(monkeypatch):
    from chalicelib.settings import reset_settings

    local = f"http://127.0.0.1:5000/{ACCOUNT}/q"
    assert invalid({"type": "sqs", "queue_url": local, "message": "x"}).field == "target.queue_url"
    monkeypatch.setenv("BEATLESS_AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    reset_settings()
    try:
        get("sqs").validate({"type": "sqs", "queue_url": local, "message": "x"})  # type: ignore[union-attr]
    finally:
        monkeypatch.delenv("BEATLESS_AWS_ENDPOINT_URL")
        reset_settings()


def test_a_payload_grown_past_the_cap_by_rendering_fails_without_retry(sqs):
    url = sqs.create_queue(QueueName="edge")["QueueUrl"]
    message = "<beatless.run-id>" * (targets_aws.SQS_MESSAGE_LIMIT // len("<beatless.run-id>"))
    with pytest.raises(TargetFailed, match="once rendered") as caught:
        call({"type": "sqs", "queue_url": url, "message": message})
    assert caught.value.retryable is False


def test_importing_the_aws_targets_builds_no_client_and_skips_boto3():
    probe = (
        "import botocore.session, sys\n"
        "botocore.session.Session.create_client = None\n"
        "import chalicelib.targets.aws\n"
        "print('boto3' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
