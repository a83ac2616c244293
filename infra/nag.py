"""cdk-nag AwsSolutions suppressions, each with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations

from infra.stack import BeatlessStack

REASONS = [
    {
        "id": "AwsSolutions-IAM5",
        "reason": "Chalice's policy files scope by name prefix "
        "(beatless-*) across regions and accounts of the deployment, and DynamoDB grants cover the "
        "tables' indexes (table/*/index/*); schedules are created per job at run time, so their "
        "ARNs can only be scoped to the schedule group.",
    },
    {
        "id": "AwsSolutions-IAM4",
        "reason": "Chalice attaches no managed policies; the CDK "
        "assets' custom resources use AWSLambdaBasicExecutionRole for their logs only.",
    },
    {
        "id": "AwsSolutions-APIG2",
        "reason": "Requests are validated in the app (pydantic), with "
        "errors that name the field; API Gateway validators would answer a different shape.",
    },
    {
        "id": "AwsSolutions-APIG1",
        "reason": "Access logging needs a stage-wide log group and "
        "an account-level role: enabled by the operator per stage (docs/deploy.md).",
    },
    {
        "id": "AwsSolutions-APIG4",
        "reason": "Authorisation is done by the app's API keys "
        "middleware on every route but the status route.",
    },
    {
        "id": "AwsSolutions-SMG4",
        "reason": "The token secret only MACs bearer tokens that live an hour; rotating it "
        "logs every OAuth2 client out, so it is rotated by the operator (docs/deploy.md).",
    },
    {"id": "AwsSolutions-COG4", "reason": "API keys, not Cognito, authenticate callers."},
    {"id": "AwsSolutions-APIG3", "reason": "WAF is an operator choice per deployment."},
    {
        "id": "AwsSolutions-APIG6",
        "reason": "CloudWatch logging per method is enabled by the "
        "operator per stage with APIG1's log group.",
    },
    {
        "id": "AwsSolutions-L1",
        "reason": "The runtime follows the Python that runs chalice "
        "(3.11, pinned for the project).",
    },
    {"id": "AwsSolutions-SQS3", "reason": "These queues are themselves dead-letter queues."},
]


#: Wildcards in the Chalice policy files: scoped by the beatless- name prefix; the deploy's
#: CDK grants (below) name this stack's resources exactly on top of them.
POLICY_FILE_WILDCARDS = {
    "arn:aws:dynamodb:*:*:table/beatless-*": "tables by name prefix, in the deploying account",
    "arn:aws:dynamodb:*:*:table/beatless-*/index/*": "the indexes of those tables",
    "arn:aws:iam::*:role/beatless-scheduler": "the scheduler role, passed to the scheduler only",
    "arn:aws:logs:*:*:log-group:/aws/lambda/beatless-*": "the functions' own log groups",
    "arn:aws:scheduler:*:*:schedule/beatless/*": "schedules are created per job at run time: "
    "the group is as narrow as AWS allows",
    "arn:aws:sqs:*:*:beatless-*": "the queues by name prefix",
}


def suppress(stack: BeatlessStack) -> None:
    validations = Validations.of(stack)
    for item in REASONS:
        validations.acknowledge(Acknowledgment(id=item["id"], reason=item["reason"]))
    for resource, why in POLICY_FILE_WILDCARDS.items():
        validations.acknowledge(
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=why)
        )
    for key, arns in stack.target_arns.items():
        for arn in arns:
            if "*" in arn:
                validations.acknowledge(
                    Acknowledgment(
                        id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                        reason=f"a target pattern the deployer configured (-c {key}), "
                        "narrowed to a resource name prefix",
                    )
                )
    for table in stack.tables.values():
        logical = stack.get_logical_id(table.node.default_child)  # type: ignore[arg-type]
        validations.acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical}.Arn>/index/*]",
                reason="a table's grant covers its own indexes (table/<name>/index/*)",
            )
        )
