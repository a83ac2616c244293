"""The AWS targets end to end through the native API (issue 14): POST /v1/tasks with a target,
the worker drains it as Lambda's SQS event source would, the run SUCCEEDED with AWS's answer
recorded, and the message, event, execution or invocation arrived with the run's placeholders."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core.config import default_user_config

from tests.api.helpers import get_task, send, submit_task
from tests.conftest import drain

REGION = "us-east-1"
PAYLOAD = {"run": "<beatless.run-id>", "attempt": "<aws.scheduler.attempt-number>"}


def finished(client: Any, run: dict[str, Any]) -> dict[str, Any]:
    drain()
    got = get_task(client, run["id"])
    assert got["status"] == "SUCCEEDED", got
    return got


def rendered(run: dict[str, Any]) -> dict[str, str]:
    return {"run": run["id"], "attempt": "1"}


def test_sqs_target_run_succeeds_and_the_message_arrives(client):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    run = submit_task(client, target={"type": "sqs", "queue_url": url, "message": PAYLOAD})
    got = finished(client, run)
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == rendered(run)
    assert message["MessageId"] in json.dumps(got["result"])


def test_eventbridge_target_run_succeeds_and_the_event_arrives(client):
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", REGION)
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="tap", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="tap", Targets=[{"Id": "q", "Arn": arn}])
    target = {"type": "eventbridge", "source": "shop", "detail_type": "tick", "detail": PAYLOAD}
    run = submit_task(client, target=target)
    got = finished(client, run)
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail"] == rendered(run)
    assert event["id"] in json.dumps(got["result"])


def test_stepfunctions_target_run_succeeds_and_the_execution_starts(client):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="reports",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    target = {"type": "stepfunctions", "state_machine_arn": machine, "input": PAYLOAD}
    run = submit_task(client, target=target)
    got = finished(client, run)
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == f"beatless-{run['id']}-1"
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == rendered(run)
    assert execution["executionArn"] in json.dumps(got["result"])


def test_lambda_target_run_succeeds_and_records_the_response(client, monkeypatch):
    monkeypatch.setitem(default_user_config, "lambda", {"use_docker": False})  # echoes payload
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="fn", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="echo-fn",
        Runtime="python3.11",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
    )
    run = submit_task(client, target={"type": "lambda", "function": "echo-fn", "payload": PAYLOAD})
    got = finished(client, run)
    assert rendered(run) == _find(got["result"], "response")


def _find(value: Any, key: str) -> Any:
    """``key`` wherever the run's record holds the target's result."""
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for item in value.values():
            found = _find(item, key)
            if found is not None:
                return found
    if isinstance(value, list):
        for item in value:
            found = _find(item, key)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"type": "lambda", "function": "bad name"}, "target.function"),
        ({"type": "sqs", "queue_url": "ftp://x/1/q", "message": "x"}, "target.queue_url"),
        ({"type": "eventbridge", "source": "aws.s3", "detail_type": "t"}, "target.source"),
        ({"type": "stepfunctions", "state_machine_arn": "m"}, "target.state_machine_arn"),
        ({"type": "lambda", "function": "f", "invocation": "Async"}, "target.invocation"),
        (
            {"type": "sqs", "queue_url": "https://sqs.us-east-1.amazonaws.com/1/q"},
            "target.queue_url",
        ),
    ],
)
def test_a_bad_aws_target_is_a_400_naming_the_field(client, target, field):
    response = send(client, "POST", "/v1/tasks", {"target": target})
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["details"]["field"] == field


def test_a_denied_target_fails_the_run_without_retry(client):
    url = f"https://sqs.{REGION}.amazonaws.com/123456789012/nowhere"
    run = submit_task(
        client,
        target={"type": "sqs", "queue_url": url, "message": "x"},
        retry={"max_attempts": 3, "initial_seconds": 0},
    )
    drain()
    got = get_task(client, run["id"])
    assert got["status"] == "FAILED", got
    assert got["attempt"] == 1
