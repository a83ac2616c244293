"""Target permissions in the synthesized stack (issue 14): the run functions may call only the
targets the deployer names in CDK context, never ``*``; with none named, no such permission."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # each synth takes a few seconds (node + chalice package)
ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
TARGET_CONTEXT = {
    "targetLambdaArns": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reports-*,"
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:one",
    "targetQueueArns": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders",
    "targetEventBusArns": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/shop",
    "targetStateMachineArns": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:reports",
}
TARGET_ACTIONS = {
    "lambda:InvokeFunction",
    "sqs:SendMessage",
    "events:PutEvents",
    "states:StartExecution",
}


def synth(out: Path, context: dict[str, str] | None) -> dict[str, Any]:
    """The dev template, synthesized as ``cdk synth -c ...`` would (cdk-nag runs in the synth
    and fails it on any unacknowledged finding)."""
    code = f"from infra.app import build; build(outdir={str(out)!r}, context={context!r}).synth()"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "dev.template.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(tmp_path_factory.mktemp("cdk-plain"), None)


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(tmp_path_factory.mktemp("cdk-targets"), TARGET_CONTEXT)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def target_statements(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(policy logical id, its roles, statement) for every statement granting a target action on
    a resource named literally: this stack's own queues and worker are references, a target
    ARN from the deployer is a string."""
    found = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = json.dumps(resource["Properties"]["Roles"])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            resources = listed(statement["Resource"])
            if TARGET_ACTIONS & set(listed(statement["Action"])) and any(
                isinstance(r, str) for r in resources
            ):
                found.append((logical, roles, statement))
    return found


def test_without_target_context_no_role_may_call_a_target(plain):
    assert target_statements(plain) == []
    assert not [k for k in plain["Resources"] if k.startswith("TargetsPolicy")]


def test_the_run_functions_may_call_exactly_the_configured_targets(configured):
    granted = {}
    for logical, roles, statement in target_statements(configured):
        assert logical.startswith("TargetsPolicy")
        assert statement["Effect"] == "Allow"
        assert isinstance(statement["Action"], str)
        granted[statement["Action"]] = sorted(listed(statement["Resource"]))
        for role in ("WorkerRole", "QueueHighRole", "QueueDefaultRole", "QueueLowRole"):
            assert f'"{role}"' in roles
        for role in ("ApiHandlerRole", "ReaperRole", "ReconcilerRole", "SchedulerRole"):
            assert role not in roles
    assert granted == {
        "lambda:InvokeFunction": [
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:one",
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:reports-*",
        ],
        "sqs:SendMessage": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"],
        "events:PutEvents": [f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/shop"],
        "states:StartExecution": [f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:reports"],
    }


def test_no_configured_policy_grants_every_resource(configured):
    for _, _, statement in target_statements(configured):
        for resource in listed(statement["Resource"]):
            assert resource != "*"
            assert not resource.endswith((":*", "/*"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("targetLambdaArns", "*"),
        ("targetLambdaArns", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*"),
        ("targetQueueArns", f"arn:aws:sqs:us-east-1:{ACCOUNT}:*"),
        ("targetQueueArns", f"arn:aws:sns:us-east-1:{ACCOUNT}:topic"),
        ("targetEventBusArns", "shop"),
        ("targetEventBusArns", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/*"),
        ("targetStateMachineArns", f"arn:aws:states:us-east-1:{ACCOUNT}:activity:a"),
    ],
)
def test_a_target_context_naming_everything_or_not_an_arn_is_refused(key, value):
    from infra.stack import target_arns

    with pytest.raises(ValueError, match=key):
        target_arns(value, key)


def test_target_context_takes_a_comma_list_or_a_json_list():
    from infra.stack import target_arns

    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
    assert target_arns(f" {arn} ,,{arn}", "targetQueueArns") == [arn]
    assert target_arns([arn], "targetQueueArns") == [arn]
    assert target_arns(None, "targetQueueArns") == []
