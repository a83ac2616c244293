"""The AWS targets under ``make run`` (issue 14): the embedded moto serves SQS, EventBridge, Step
Functions and (without Docker, once switched to its echo backend) Lambda, and a run through the
local API reaches each of them with the run's placeholders rendered."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from chalicelib.local.launch import call

REGION = "us-east-1"
PAYLOAD = {"run": "<beatless.run-id>"}


def aws(service: str, moto_port: int) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{moto_port}",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def run_target(port: int, target: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/tasks with ``target``; the run once it has ended."""
    status, run = call(port, "POST", "/v1/tasks", {"target": target})
    assert status == 202, run
    deadline = time.monotonic() + 20
    while True:
        status, got = call(port, "GET", f"/v1/tasks/{run['id']}")
        if got["status"] not in ("QUEUED", "RUNNING"):
            return got  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, got
        time.sleep(0.1)


def test_every_aws_target_works_under_make_run(stack):
    _, port, moto_port = stack
    sqs = aws("sqs", moto_port)

    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    run = run_target(port, {"type": "sqs", "queue_url": url, "message": PAYLOAD})
    assert run["status"] == "SUCCEEDED", run
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == {"run": run["id"]}

    events = aws("events", moto_port)
    tap = sqs.create_queue(QueueName="tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="tap", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="tap", Targets=[{"Id": "q", "Arn": arn}])
    target = {"type": "eventbridge", "source": "shop", "detail_type": "t", "detail": PAYLOAD}
    run = run_target(port, target)
    assert run["status"] == "SUCCEEDED", run
    (message,) = sqs.receive_message(QueueUrl=tap)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"run": run["id"]}

    sfn = aws("stepfunctions", moto_port)
    machine = sfn.create_state_machine(
        name="reports",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    target = {"type": "stepfunctions", "state_machine_arn": machine, "input": PAYLOAD}
    run = run_target(port, target)
    assert run["status"] == "SUCCEEDED", run
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"run": run["id"]}

    # Lambda: make run switches moto to its echo backend (no Docker): the payload comes back.
    role = aws("iam", moto_port).create_role(RoleName="fn", AssumeRolePolicyDocument="{}")
    aws("lambda", moto_port).create_function(
        FunctionName="echo-fn",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
    )
    run = run_target(port, {"type": "lambda", "function": "echo-fn", "payload": PAYLOAD})
    assert run["status"] == "SUCCEEDED", run
    assert json.dumps({"run": run["id"]})[1:-1] in json.dumps(run["result"])
