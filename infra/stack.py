"""The whole service as one CDK stack: tables, queues, the schedule group and its role, the
Chalice app (API and worker functions), the dashboard and alarms, outputs.

Tables come from the PynamoDB models themselves (keys, indexes, TTL), so the deployed tables and
the code's models cannot drift. Every function gets its resources' names and ARNs as the
``BEATLESS_*`` variables ``chalicelib/settings.py`` reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib import metrics
from chalicelib.settings import (
    FUNCTION_ENV,
    MAX_JOBS_ENV,
    MAX_JOBS_PER_TENANT,
    MAX_RUNS_ENV,
    MAX_RUNS_IN_FLIGHT_PER_TENANT,
)
from chalicelib.storage.models import ALL_MODELS
from chalicelib.tasks import QUEUES
from infra.package import ChaliceWithUserTasks, task_module_environment

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "beatless"
#: SAM logical ids of the Chalice functions, and which of them consume which queue.
API_FUNCTION = "APIHandler"
WORKER_FUNCTIONS = ("Worker", "QueueHigh", "QueueDefault", "QueueLow", "Reaper", "Reconciler")
QUEUE_FUNCTIONS = {"high": "QueueHigh", "default": "QueueDefault", "low": "QueueLow"}
#: The functions that execute runs, so call targets (the scheduled-fire worker, the queues').
RUN_FUNCTIONS = ("Worker", *QUEUE_FUNCTIONS.values())
#: CDK context key -> (the one action a target type needs, what its resource ARNs look like).
#: Only what the deployer names is granted: ``-c targetQueueArns=arn:...:q1,arn:...:q2``.
TARGET_GRANTS = {
    "targetLambdaArns": ("lambda:InvokeFunction", r"lambda:[^:]+:[^:]+:function:.+"),
    "targetQueueArns": ("sqs:SendMessage", r"sqs:[^:]+:[^:]+:.+"),
    "targetEventBusArns": ("events:PutEvents", r"events:[^:]+:[^:]+:event-bus/.+"),
    "targetStateMachineArns": ("states:StartExecution", r"states:[^:]+:[^:]+:stateMachine:.+"),
}
_KEY_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}
#: The alarms' thresholds, each overridable with CDK context (``-c fireLagP99Seconds=120``);
#: docs/operations.md says what each alarm means and what to do.
ALARM_DEFAULTS: dict[str, float] = {
    # p99 of a queue's fire lag (a fire's scheduled time to its run's start), over 5 minutes
    "fireLagP99Seconds": 60.0,
    # a queue's runs ended FAILED or TIMED_OUT, as a share of all its runs ended, over 5 minutes
    "failureRatePercent": 10.0,
    # ... counted only when at least this many runs ended in those 5 minutes
    "failureRateMinRuns": 5.0,
}
#: Every alarm evaluates 5-minute periods; fire lag and failure rate alarm on 2 of the last 3.
ALARM_PERIOD = Duration.minutes(5)
#: CDK context naming an SNS topic every alarm notifies (into ALARM and back to OK); none: the
#: alarms only change state.
ALARM_TOPIC = "alarmTopicArn"
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


#: API Gateway throttling of the API stage (every method, every tenant together: beatless's keys
#: are its own, not API Gateway's, so no usage plan can tell tenants apart), overridable with
#: CDK context (``-c apiRateLimit=200``): steady requests per second, and the burst above it.
THROTTLE_DEFAULTS: dict[str, int] = {"apiRateLimit": 100, "apiBurstLimit": 200}
#: CDK context -> (the variable ``chalicelib/settings.py`` reads, its default): the per-tenant
#: caps, 0 for none (docs/operations.md, "Limits").
CAP_CONTEXT: dict[str, tuple[str, int]] = {
    "maxJobsPerTenant": (MAX_JOBS_ENV, MAX_JOBS_PER_TENANT),
    "maxRunsInFlightPerTenant": (MAX_RUNS_ENV, MAX_RUNS_IN_FLIGHT_PER_TENANT),
}


def whole_numbers(
    context: Callable[[str], Any], defaults: dict[str, int], least: int
) -> dict[str, int]:
    """``defaults`` with what CDK context overrides, each a whole number >= ``least``."""
    values = {}
    for key, default in defaults.items():
        value = context(key)
        text = str(default if value is None or value == "" else value).strip()
        if not text.isdigit() or int(text) < least:
            raise ValueError(f"context {key}: {value!r} is not a whole number >= {least}")
        values[key] = int(text)
    return values


def alarm_topic_arn(value: Any) -> str | None:
    """The ``alarmTopicArn`` context value, checked to be an SNS topic's ARN (or None)."""
    if value is None or str(value).strip() == "":
        return None
    arn = str(value).strip()
    if not _TOPIC_ARN.match(arn):
        raise ValueError(f"context {ALARM_TOPIC}: {arn!r} is not an SNS topic ARN")
    return arn


def alarm_thresholds(context: Callable[[str], Any]) -> dict[str, float]:
    """ALARM_DEFAULTS with what CDK context overrides (``context`` is ``node.try_get_context``);
    each must be a positive number."""
    thresholds = {}
    for key, default in ALARM_DEFAULTS.items():
        value = context(key)
        try:
            number = float(default if value is None or value == "" else value)
        except (TypeError, ValueError):
            number = -1.0
        if not number > 0:
            raise ValueError(f"context {key}: {value!r} is not a positive number")
        thresholds[key] = number
    return thresholds


def table_specs() -> list[dict[str, Any]]:
    """Name suffix, key schema, indexes and TTL attribute of every model (from PynamoDB)."""
    specs = []
    for model in ALL_MODELS:
        schema = model._get_schema()
        types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        keys = {k["KeyType"]: k["AttributeName"] for k in schema["key_schema"]}
        indexes = [
            {
                "name": index["index_name"],
                "keys": {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]},
                "projection": index["projection"]["ProjectionType"],
            }
            for index in schema.get("global_secondary_indexes", [])
        ]
        ttl = next(
            (
                name
                for name, attr in model.get_attributes().items()
                if type(attr).__name__ == "TTLAttribute"
            ),
            None,
        )
        specs.append(
            {
                "suffix": model.Meta.table_name.removeprefix("beatless-"),
                "types": types,
                "keys": keys,
                "indexes": indexes,
                "ttl": ttl,
            }
        )
    return specs


def _key_attributes(keys: dict[str, str], types: dict[str, str]) -> dict[str, Any]:
    """partition_key and sort_key of a table or an index, from a PynamoDB key schema."""

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=_KEY_TYPES[types[name]])

    sort = attribute(keys["RANGE"]) if "RANGE" in keys else None
    return {"partition_key": attribute(keys["HASH"]), "sort_key": sort}


def target_arns(value: Any, key: str) -> list[str]:
    """A context value (``a,b`` from ``-c``, or a JSON list from cdk.json) as the ARNs it names.
    Each must be an ARN of the key's service and resource type whose name is more than a
    wildcard: ``*`` or ``...:function:*`` would be every target, which this stack never grants."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    arns = [str(item).strip() for item in items if str(item).strip()]
    shape = re.compile(rf"^arn:aws[a-z-]*:{TARGET_GRANTS[key][1]}$")
    for arn in arns:
        name = re.split(r"[:/]", arn.split(":", 5)[-1], maxsplit=1)[-1]
        if not shape.match(arn) or not name.strip("*:/"):
            raise ValueError(
                f"context {key}: {arn!r} is not a {TARGET_GRANTS[key][0].split(':')[0]} ARN "
                "naming its resources (a name or a name prefix, never only *)"
            )
    return sorted(set(arns))


class BeatlessStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.tables = self._create_tables()
        self.queues, self.dead_letters = self._create_queues()
        self.failed = self._queue("FailedRuns", "failed", retention_period=Duration.days(14))
        self.scheduler_dlq = self._queue(
            "SchedulerDeadLetters", "scheduler-dlq", retention_period=Duration.days(14)
        )
        self.group = scheduler.CfnScheduleGroup(self, "ScheduleGroup", name=PREFIX)
        worker_name = f"{PREFIX}-{construct_id}-worker"
        worker_arn = self.format_arn(
            service="lambda",
            resource="function",
            resource_name=worker_name,
            arn_format=self._colon(),
        )
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler invokes the beatless worker, and nothing else",
        )
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[worker_arn])
        )
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.scheduler_dlq.queue_arn]
            )
        )
        # OAuth2 tokens (chalicelib/tokens.py) are MACed under this too, not only under the
        # key's stored hash: reading the keys table is then not enough to mint a token.
        self.token_secret = secretsmanager.Secret(
            self,
            "TokenSecret",
            description="Server secret of beatless's OAuth2 bearer tokens",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64
            ),
        )
        environment = {
            "BEATLESS_TOKEN_SECRET_ARN": self.token_secret.secret_arn,
            "BEATLESS_SCHEDULE_GROUP": PREFIX,
            "BEATLESS_WORKER_ARN": worker_arn,
            "BEATLESS_SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
            "BEATLESS_SCHEDULER_DLQ_ARN": self.scheduler_dlq.queue_arn,
            "BEATLESS_QUEUE_PREFIX": f"{PREFIX}-",
            "BEATLESS_FAILED_QUEUE": self.failed.queue_name,
            "BEATLESS_STAGE": construct_id,
            **self._caps(),
            **task_module_environment(),
            **{
                f"BEATLESS_{spec['suffix'].upper()}_TABLE": self.tables[spec["suffix"]].table_name
                for spec in table_specs()
            },
        }
        # The package also holds the user's task modules (infra/package.py).
        self.chalice = ChaliceWithUserTasks(
            self, "App", source_dir=str(ROOT), stage_config=self._stage_config(environment)
        )
        self.chalice.get_resource("Worker").add_property_override("FunctionName", worker_name)
        self.sdk_layer = self._sdk_layer()
        for function in WORKER_FUNCTIONS:  # no HTTP: their cold start skips the faces (app.py)
            self.chalice.get_resource(function).add_property_override(
                f"Environment.Variables.{FUNCTION_ENV}", "worker"
            )
        for queue, function in QUEUE_FUNCTIONS.items():
            handler = self.chalice.get_resource(function)
            handler.add_override(
                f"Properties.Events.{function}SqsEventSource.Properties.FunctionResponseTypes",
                ["ReportBatchItemFailures"],
            )
            # The event source names its queue by ARN: create the queue first.
            handler.add_resource_dependency(self.queues[queue].node.default_child)  # type: ignore[arg-type]
        self._not_found_as_json()
        self.throttling = self._throttle()
        self._grant()
        self.target_arns = self._grant_targets()
        self.thresholds = alarm_thresholds(self.node.try_get_context)
        self.alarms = self._alarms()
        topic_arn = alarm_topic_arn(self.node.try_get_context(ALARM_TOPIC))
        if topic_arn is not None:
            action = cloudwatch_actions.SnsAction(
                sns.Topic.from_topic_arn(self, "AlarmTopic", topic_arn)
            )
            for alarm in self.alarms:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
        self._dashboard()
        self._outputs()

    def _sdk_layer(self) -> lambda_.LayerVersion:
        """The pinned boto3 and botocore, taken out of the package (infra/package.py), as a layer
        of every function: Lambda puts it before the runtime's own, older copy on sys.path, and
        chalicelib/sdk.py refuses to start with an older one (docs/deploy.md)."""
        layer = lambda_.LayerVersion(
            self,
            "SdkLayer",
            code=lambda_.Code.from_asset(str(self.chalice.sdk_layer_zip)),
            description="beatless: the AWS SDK of requirements.txt (boto3, botocore)",
        )
        for function in (API_FUNCTION, *WORKER_FUNCTIONS):
            self.chalice.get_resource(function).add_property_override(
                "Layers", [layer.layer_version_arn]
            )
        return layer

    @staticmethod
    def _colon() -> Any:
        from aws_cdk import ArnFormat

        return ArnFormat.COLON_RESOURCE_NAME

    def _create_tables(self) -> dict[str, dynamodb.Table]:
        tables = {}
        for spec in table_specs():
            keys = spec["keys"]
            table = dynamodb.Table(
                self,
                f"{spec['suffix'].capitalize()}Table",
                table_name=f"{PREFIX}-{spec['suffix']}",
                **_key_attributes(keys, spec["types"]),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=spec["ttl"],
                removal_policy=RemovalPolicy.RETAIN,
            )
            for index in spec["indexes"]:
                table.add_global_secondary_index(
                    index_name=index["name"],
                    **_key_attributes(index["keys"], spec["types"]),
                    projection_type=dynamodb.ProjectionType[index["projection"]],
                )
            tables[spec["suffix"]] = table
        return tables

    def _create_queues(self) -> tuple[dict[str, sqs.Queue], dict[str, sqs.Queue]]:
        queues, dead_letters = {}, {}
        for name in QUEUES:
            dlq = self._queue(
                f"{name.capitalize()}DeadLetters", f"{name}-dlq", retention_period=Duration.days(14)
            )
            queues[name] = self._queue(
                f"{name.capitalize()}Queue",
                name,
                visibility_timeout=Duration.seconds(960),
                dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=dlq),
            )
            dead_letters[name] = dlq
        return queues, dead_letters

    def _queue(self, construct_id: str, name: str, **settings: Any) -> sqs.Queue:
        """A queue named beatless-<name>, SSL-only and encrypted, like every queue here."""
        return sqs.Queue(
            self,
            construct_id,
            queue_name=f"{PREFIX}-{name}",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            **settings,
        )

    @staticmethod
    def _stage_config(environment: dict[str, Any]) -> dict[str, Any]:
        functions = {
            name: {
                "iam_policy_file": "policy-worker.json",
                "lambda_timeout": 900,
                "lambda_memory_size": 512,
            }
            for name in (
                "worker",
                "queue_high",
                "queue_default",
                "queue_low",
                "reaper",
                "reconciler",
            )
        }
        return {
            "api_gateway_stage": "api",
            "iam_policy_file": "policy-api.json",
            "environment_variables": environment,
            "lambda_functions": functions,
        }

    def _not_found_as_json(self) -> None:
        """API Gateway answers a path no route matches with 403 "Missing Authentication Token";
        answer the same JSON 404 that make run and the tests give."""
        body = (
            '{"error": {"code": "not_found", "message": "no route for $context.path", '
            '"details": {}}}'
        )
        self.chalice.get_resource("RestAPI").add_override(
            "Properties.DefinitionBody.x-amazon-apigateway-gateway-responses",
            {
                "MISSING_AUTHENTICATION_TOKEN": {
                    "statusCode": 404,
                    "responseTemplates": {"application/json": body},
                }
            },
        )

    def _caps(self) -> dict[str, str]:
        """The per-tenant caps' variables, from CDK context (``-c maxJobsPerTenant=5000``)."""
        caps = whole_numbers(
            self.node.try_get_context, {k: d for k, (_, d) in CAP_CONTEXT.items()}, 0
        )
        return {CAP_CONTEXT[key][0]: str(value) for key, value in caps.items()}

    def _throttle(self) -> dict[str, int]:
        """Throttle every method of the API stage (THROTTLE_DEFAULTS, or CDK context), and
        answer a throttled request as beatless answers a cap: JSON, 429, Retry-After."""
        limits = whole_numbers(self.node.try_get_context, THROTTLE_DEFAULTS, 1)
        api = self.chalice.get_resource("RestAPI")
        api.add_override(
            "Properties.MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": limits["apiRateLimit"],
                    "ThrottlingBurstLimit": limits["apiBurstLimit"],
                }
            ],
        )
        body = (
            '{"error": {"code": "throttled", "message": "too many requests to this API; '
            'retry after Retry-After seconds", "details": {"limit": "api_rate"}}}'
        )
        api.add_override(
            "Properties.DefinitionBody.x-amazon-apigateway-gateway-responses.THROTTLED",
            {
                "statusCode": 429,
                "responseParameters": {"gatewayresponse.header.Retry-After": "'1'"},
                "responseTemplates": {"application/json": body},
            },
        )
        return limits

    def _grant(self) -> None:
        """Scope each function's access to this stack's resources (on top of the name-scoped
        policy files): tables, queues, the group's schedules, passing the scheduler role."""
        for function in (API_FUNCTION, *WORKER_FUNCTIONS):
            role = self.chalice.get_role(
                "ApiHandlerRole" if function == API_FUNCTION else f"{function}Role"
            )
            for table in self.tables.values():
                table.grant_read_write_data(role)
            for queue in (*self.queues.values(), self.failed):
                queue.grant_send_messages(role)
            self.scheduler_role.grant_pass_role(role)
        self.token_secret.grant_read(self.chalice.get_role("ApiHandlerRole"))
        for queue, function in QUEUE_FUNCTIONS.items():
            self.queues[queue].grant_consume_messages(self.chalice.get_role(f"{function}Role"))

    def _grant_targets(self) -> dict[str, list[str]]:
        """Let the run-executing functions call the AWS targets the deployer names in CDK
        context, and nothing else: with no context, no target permission exists at all."""
        configured = {
            key: target_arns(self.node.try_get_context(key), key) for key in TARGET_GRANTS
        }
        statements = [
            iam.PolicyStatement(actions=[TARGET_GRANTS[key][0]], resources=arns)
            for key, arns in configured.items()
            if arns
        ]
        if statements:
            iam.Policy(
                self,
                "TargetsPolicy",
                statements=statements,
                roles=[self.chalice.get_role(f"{name}Role") for name in RUN_FUNCTIONS],
            )
        return {key: arns for key, arns in configured.items() if arns}

    def _metric(self, name: str, queue: str, statistic: str = "Sum") -> cloudwatch.Metric:
        """A beatless metric (chalicelib/metrics.py) of one queue, per 5 minutes."""
        return cloudwatch.Metric(
            namespace=metrics.NAMESPACE,
            metric_name=name,
            dimensions_map={"Service": f"{PREFIX}-{self.node.id}", "Queue": queue},
            statistic=statistic,
            period=ALARM_PERIOD,
        )

    def _failure_rate(self, queue: str) -> cloudwatch.MathExpression:
        """100 x (FAILED + TIMED_OUT) / all runs ended, for a queue; 0 below the minimum."""
        runs, failed, timed_out = (f"{name}_{queue}" for name in ("runs", "failed", "timedout"))
        return cloudwatch.MathExpression(
            expression=(
                f"IF({runs} >= {self.thresholds['failureRateMinRuns']:g}, "
                f"100 * (FILL({failed}, 0) + FILL({timed_out}, 0)) / {runs}, 0)"
            ),
            using_metrics={
                runs: self._metric("Runs", queue),
                failed: self._metric("RunsFailed", queue),
                timed_out: self._metric("RunsTimedOut", queue),
            },
            label=f"{queue} failure rate (%)",
            period=ALARM_PERIOD,
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        alarms = []
        for name, queue in {
            **self.dead_letters,
            "failed": self.failed,
            "scheduler": self.scheduler_dlq,
        }.items():
            alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{name.capitalize()}DeadLetterAlarm",
                    metric=queue.metric_approximate_number_of_messages_visible(
                        period=ALARM_PERIOD, statistic="Maximum"
                    ),
                    threshold=0,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"messages are waiting in {queue.queue_name}",
                )
            )
        for function in ("Worker", "QueueHigh", "QueueDefault", "QueueLow"):
            alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{function}ErrorsAlarm",
                    metric=cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name="Errors",
                        dimensions_map={"FunctionName": self.chalice.get_resource(function).ref},
                        period=ALARM_PERIOD,
                        statistic="Sum",
                    ),
                    threshold=1,
                    evaluation_periods=1,
                    alarm_description=f"the {function} function reports errors",
                )
            )
        lag = self.thresholds["fireLagP99Seconds"]
        rate = self.thresholds["failureRatePercent"]
        for queue in QUEUES:
            name = queue.capitalize()
            alarms.append(
                self._sustained(
                    f"{name}FireLagAlarm",
                    self._metric("FireLag", queue, "p99"),
                    lag * 1000,
                    f"p99 of queue {queue}'s fire lag (scheduled time to start) is over {lag:g} s",
                )
            )
            alarms.append(
                self._sustained(
                    f"{name}FailureRateAlarm",
                    self._failure_rate(queue),
                    rate,
                    f"over {rate:g} % of queue {queue}'s runs end FAILED or TIMED_OUT",
                )
            )
        return alarms

    def _sustained(
        self, alarm_id: str, metric: cloudwatch.IMetric, threshold: float, description: str
    ) -> cloudwatch.Alarm:
        """An alarm on ``metric`` over ``threshold`` in 2 of 3 periods; no data is not a breach."""
        return cloudwatch.Alarm(
            self,
            alarm_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        """One dashboard of the service's metrics, by queue, and of its alarms."""

        def by_queue(name: str, statistic: str = "Sum") -> list[cloudwatch.IMetric]:
            return [
                self._metric(name, queue, statistic).with_(label=f"{queue} {statistic}")
                for queue in QUEUES
            ]

        def all_queues(name: str, label: str) -> cloudwatch.MathExpression:
            ids = {f"{name.lower()}{n}": self._metric(name, q) for n, q in enumerate(QUEUES)}
            return cloudwatch.MathExpression(
                expression=f"SUM([{', '.join(f'FILL({i}, 0)' for i in ids)}])",
                using_metrics=ids,
                label=label,
                period=ALARM_PERIOD,
            )

        lag = cloudwatch.HorizontalAnnotation(
            value=self.thresholds["fireLagP99Seconds"] * 1000, label="alarm"
        )
        rate = cloudwatch.HorizontalAnnotation(
            value=self.thresholds["failureRatePercent"], label="alarm"
        )
        dead_letters = {**self.dead_letters, "failed": self.failed, "scheduler": self.scheduler_dlq}
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{PREFIX}-{self.node.id}"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Fires", left=by_queue("Fires"), width=12),
            cloudwatch.GraphWidget(
                title="Fire lag p99 (ms, scheduled time to start)",
                left=by_queue("FireLag", "p99"),
                left_annotations=[lag],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Runs by outcome (all queues)",
                left=[all_queues(name, status) for status, name in metrics.OUTCOMES.items()],
                stacked=True,
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Failure rate (%, FAILED or TIMED_OUT of all runs ended)",
                left=[self._failure_rate(queue) for queue in QUEUES],
                left_annotations=[rate],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Run duration (ms)",
                left=by_queue("RunDuration", "p50") + by_queue("RunDuration", "p99"),
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Retries and dead-lettered runs",
                left=[
                    all_queues("Retries", "retries"),
                    all_queues("DeadLettered", "dead-lettered"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead-letter queues: messages visible",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=ALARM_PERIOD, statistic="Maximum", label=queue.queue_name
                    )
                    for queue in dead_letters.values()
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )
        return dashboard

    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.chalice.sam_template.get_output("EndpointURL").value)
        CfnOutput(self, "ScheduleGroupName", value=PREFIX)
        CfnOutput(self, "WorkerFunction", value=f"{PREFIX}-{self.stack_name}-worker")
        for suffix, table in self.tables.items():
            CfnOutput(self, f"{suffix.capitalize()}TableName", value=table.table_name)
