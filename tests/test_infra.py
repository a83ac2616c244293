"""The CDK stack, synthesized offline: resources, least privilege, models vs tables, cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.storage.models import ALL_MODELS

pytestmark = pytest.mark.slow  # a synth takes a few seconds (node + chalice package)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cdk.out directory of a synth whose deploy names a user task package (issue 14)."""
    out = tmp_path_factory.mktemp("cdk")
    done = subprocess.run(
        [sys.executable, "-c", f"from infra.app import build; build(outdir={str(out)!r}).synth()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={
            "AWS_DEFAULT_REGION": "us-east-1",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "BEATLESS_TASK_MODULES": "examples.tasks",
        },
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def template(synthesized: Path) -> dict[str, Any]:
    return json.loads((synthesized / "dev.template.json").read_text())


def keys(schema: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(k["AttributeName"], k["KeyType"]) for k in schema}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_tables_match_the_pynamodb_models_exactly(template):
    tables = {
        r["Properties"]["TableName"]: r["Properties"]
        for r in of_type(template, "AWS::DynamoDB::Table").values()
    }
    assert set(tables) == {model.Meta.table_name for model in ALL_MODELS}
    for model in ALL_MODELS:
        schema = model._get_schema()
        table = tables[model.Meta.table_name]
        assert keys(table["KeySchema"]) == keys(schema["key_schema"])
        indexes = {
            i["IndexName"]: keys(i["KeySchema"]) for i in table.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == {
            i["index_name"]: keys(i["key_schema"])
            for i in schema.get("global_secondary_indexes", [])
        }
        ttl = [n for n, a in model.get_attributes().items() if type(a).__name__ == "TTLAttribute"]
        if ttl:
            assert table["TimeToLiveSpecification"] == {"AttributeName": ttl[0], "Enabled": True}
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["SSESpecification"] == {"SSEEnabled": True}


def test_queues_have_dead_letter_queues_and_partial_batch_responses(template):
    queues = {
        q["Properties"]["QueueName"]: q["Properties"]
        for q in of_type(template, "AWS::SQS::Queue").values()
    }
    for name in ("high", "default", "low"):
        props = queues[f"beatless-{name}"]
        assert props["RedrivePolicy"]["maxReceiveCount"] == 5
        assert f"beatless-{name}-dlq" in queues
    assert {"beatless-failed", "beatless-scheduler-dlq"} <= set(queues)
    functions = of_type(template, "AWS::Serverless::Function")
    for name in ("QueueHigh", "QueueDefault", "QueueLow"):
        (event,) = functions[name]["Properties"]["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_scheduler_role_may_invoke_the_worker_and_nothing_else(template):
    groups = of_type(template, "AWS::Scheduler::ScheduleGroup")
    assert [g["Properties"]["Name"] for g in groups.values()] == ["beatless"]
    roles = of_type(template, "AWS::IAM::Role")
    (role_id,) = [
        k
        for k, r in roles.items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "scheduler.amazonaws.com"
    ]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for group in policies for s in group]
    actions = sorted(str(s["Action"]) for s in statements)
    assert actions == ["lambda:InvokeFunction", "sqs:SendMessage"]
    invoke = next(s for s in statements if s["Action"] == "lambda:InvokeFunction")
    assert "function:beatless-dev-worker" in json.dumps(invoke["Resource"])
    worker = of_type(template, "AWS::Serverless::Function")["Worker"]["Properties"]
    assert worker["FunctionName"] == "beatless-dev-worker"


def test_no_policy_grants_every_action(template):
    for policy in of_type(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert "*" not in actions
            assert not any(a.endswith(":*") for a in actions), actions


def test_functions_get_every_setting_they_read(template):
    functions = of_type(template, "AWS::Serverless::Function")
    for name in ("APIHandler", "Worker", "QueueHigh", "Reaper", "Reconciler"):
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert {
            "BEATLESS_SCHEDULE_GROUP",
            "BEATLESS_WORKER_ARN",
            "BEATLESS_SCHEDULER_ROLE_ARN",
            "BEATLESS_SCHEDULER_DLQ_ARN",
            "BEATLESS_QUEUE_PREFIX",
            "BEATLESS_FAILED_QUEUE",
            "BEATLESS_JOBS_TABLE",
            "BEATLESS_NAMES_TABLE",
            "BEATLESS_RUNS_TABLE",
            "BEATLESS_MESSAGES_TABLE",
            "BEATLESS_KEYS_TABLE",
        } <= set(variables), name


def test_the_api_reads_the_generated_token_secret_and_no_other_function_does(template):
    (secret_id,) = of_type(template, "AWS::SecretsManager::Secret")
    functions = of_type(template, "AWS::Serverless::Function")
    variables = functions["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["BEATLESS_TOKEN_SECRET_ARN"] == {"Ref": secret_id}
    readers = [
        json.dumps(policy["Properties"]["Roles"])
        for policy in of_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
    ]
    assert len(readers) == 1 and '"ApiHandlerRole"' in readers[0], readers


def test_alarms_and_outputs(template):
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"].get("MetricName", "") for a in alarms.values())
    assert metrics.count("ApproximateNumberOfMessagesVisible") == 5
    assert metrics.count("Errors") == 4
    assert {
        "ApiUrl",
        "ScheduleGroupName",
        "JobsTableName",
        "RunsTableName",
        "WorkerFunction",
    } <= set(template["Outputs"])


def test_cfn_lint_finds_no_error(template, tmp_path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    done = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ":E" in line]
    assert errors == [], done.stdout


def test_core_resources_through_cdk_assertions(template):
    from aws_cdk.assertions import Match, Template

    synthesized = Template.from_json(template)
    synthesized.resource_count_is("AWS::DynamoDB::Table", len(ALL_MODELS))
    synthesized.resource_count_is("AWS::SQS::Queue", 8)
    synthesized.resource_count_is("AWS::Scheduler::ScheduleGroup", 1)
    synthesized.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "beatless-runs",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )
    synthesized.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {
                    "Statement": [
                        Match.object_like({"Principal": {"Service": "scheduler.amazonaws.com"}})
                    ]
                }
            )
        },
    )


def test_an_unknown_route_is_a_json_404_on_api_gateway_too(template):
    api = of_type(template, "AWS::Serverless::Api")["RestAPI"]["Properties"]["DefinitionBody"]
    response = api["x-amazon-apigateway-gateway-responses"]["MISSING_AUTHENTICATION_TOKEN"]
    assert response["statusCode"] == 404
    body = json.loads(
        response["responseTemplates"]["application/json"].replace("$context.path", "/x")
    )
    assert body["error"]["code"] == "not_found"


def test_the_package_holds_the_users_task_modules_and_the_functions_name_them(
    synthesized, template
):
    functions = of_type(template, "AWS::Serverless::Function")
    for name in ("APIHandler", "Worker", "QueueDefault"):
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert variables["BEATLESS_TASK_MODULES"] == "examples.tasks"
    keys = {f["Properties"]["CodeUri"]["Key"] for f in functions.values()}
    assert len(keys) == 1  # one package for every function
    with zipfile.ZipFile(synthesized / f"asset.{keys.pop()}") as archive:
        names = set(archive.namelist())
        example = archive.read("examples/tasks/reports.py").decode()
    assert {"app.py", "chalicelib/tasks/registry.py", "examples/tasks/__init__.py"} <= names
    assert example == (ROOT / "examples" / "tasks" / "reports.py").read_text()
    assert not any("__pycache__" in name for name in names if name.startswith("examples/"))


def test_the_default_tasks_package_is_found_beside_the_app(tmp_path):
    """Unset, BEATLESS_TASK_MODULES means the package tasks/ beside app.py: packaged whole (its
    helpers and data files too), and nothing when there is none."""
    (tmp_path / "tasks" / "helpers").mkdir(parents=True)
    for name in ("__init__.py", "billing.py", "helpers/__init__.py", "helpers/template.txt"):
        (tmp_path / "tasks" / name).write_text("# user code\n")
    probe = "from infra.package import user_task_files; print(sorted(user_task_files()))"
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
    ).stdout
    assert found.strip() == str(
        [
            "tasks/__init__.py",
            "tasks/billing.py",
            "tasks/helpers/__init__.py",
            "tasks/helpers/template.txt",
        ]
    )
    none = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    assert none.strip() == "[]"


# -- observability (issue 19): the dashboard and the alarms -----------------------------------


def _alarms(template: dict[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    return {
        name: alarm["Properties"]
        for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("MetricName") == metric
        or metric in json.dumps(alarm["Properties"].get("Metrics", []))
    }


def test_every_dead_letter_queue_alarms_on_any_visible_message(template):
    queues = {
        name: q["Properties"]["QueueName"]
        for name, q in of_type(template, "AWS::SQS::Queue").items()
    }
    alarms = _alarms(template, "ApproximateNumberOfMessagesVisible")
    watched = set()
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0
        assert alarm["Statistic"] == "Maximum" and alarm["TreatMissingData"] == "notBreaching"
        (dimension,) = alarm["Dimensions"]
        watched.add(queues[dimension["Value"]["Fn::GetAtt"][0]])
    assert watched == {
        "beatless-high-dlq",
        "beatless-default-dlq",
        "beatless-low-dlq",
        "beatless-failed",
        "beatless-scheduler-dlq",
    }


def test_each_queue_alarms_on_its_fire_lag_p99(template):
    alarms = _alarms(template, "FireLag")
    by_queue = {
        {d["Name"]: d["Value"] for d in a["Dimensions"]}["Queue"]: a for a in alarms.values()
    }
    assert set(by_queue) == {"high", "default", "low"}
    for alarm in by_queue.values():
        assert alarm["Namespace"] == "Beatless" and alarm["ExtendedStatistic"] == "p99"
        assert {d["Name"] for d in alarm["Dimensions"]} == {"Service", "Queue"}
        assert alarm["Threshold"] == 60_000  # ALARM_DEFAULTS' 60 s, in the metric's ms
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_each_queue_alarms_on_its_failure_rate_by_metric_math(template):
    alarms = _alarms(template, "RunsFailed")
    assert len(alarms) == 3
    for alarm in alarms.values():
        (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
        stats = {
            m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
            for m in alarm["Metrics"]
            if "MetricStat" in m
        }
        assert sorted(stats.values()) == ["Runs", "RunsFailed", "RunsTimedOut"]
        ids = {name: id_ for id_, name in stats.items()}
        assert expression["Expression"] == (
            f"IF({ids['Runs']} >= 5, 100 * (FILL({ids['RunsFailed']}, 0) + "
            f"FILL({ids['RunsTimedOut']}, 0)) / {ids['Runs']}, 0)"
        )
        assert expression["ReturnData"] is True
        assert alarm["Threshold"] == 10 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def _dashboard(template: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = of_type(template, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "REF" for p in parts))


def test_the_dashboard_graphs_every_metric_by_queue_and_shows_every_alarm(template):
    from chalicelib import metrics

    body = _dashboard(template)
    graphed = json.dumps([w["properties"].get("metrics") for w in body["widgets"]])
    for name in metrics.METRICS:
        assert f'"Beatless", "{name}", "Queue"' in graphed, name
    assert "tenant" not in graphed and "job_id" not in graphed
    assert graphed.count('"ApproximateNumberOfMessagesVisible"') == 5
    (status,) = [w for w in body["widgets"] if w["properties"].get("alarms")]
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert len(status["properties"]["alarms"]) == len(alarms) == 15


def test_alarm_thresholds_come_from_context_or_their_documented_defaults():
    from infra.stack import ALARM_DEFAULTS, alarm_thresholds

    assert alarm_thresholds({}.get) == ALARM_DEFAULTS
    given = {"fireLagP99Seconds": "120", "failureRatePercent": 2.5}
    assert alarm_thresholds(given.get) == {
        **ALARM_DEFAULTS,
        **{k: float(v) for k, v in given.items()},
    }
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ValueError, match="failureRateMinRuns"):
            alarm_thresholds({"failureRateMinRuns": bad}.get)
    documented = (ROOT / "docs" / "operations.md").read_text()
    for key, default in ALARM_DEFAULTS.items():
        assert f"`{key}` | {default:g}" in documented, key


def test_every_function_gets_the_sdk_from_the_layer_and_the_package_stays_small(
    synthesized, template
):
    """boto3/botocore leave the function package for a layer built from it (issue 19): the
    package is at most 5 MB zipped and holds no SDK; every function lists the layer, which holds
    the SDK of requirements.txt where Lambda looks (python/)."""
    from chalicelib import sdk

    functions = of_type(template, "AWS::Serverless::Function")
    (layer_id, layer), *others = of_type(template, "AWS::Lambda::LayerVersion").items()
    assert not others
    for name, function in functions.items():
        assert function["Properties"]["Layers"] == [{"Ref": layer_id}], name
    package = synthesized / f"asset.{functions['APIHandler']['Properties']['CodeUri']['Key']}"
    assert package.stat().st_size <= 5_000_000
    with zipfile.ZipFile(package) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    assert not tops & {"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath"}
    assert {"pynamodb", "pydantic", "chalicelib", "app.py"} <= tops
    key = layer["Properties"]["Content"]["S3Key"]
    assets = [p for p in synthesized.iterdir() if p.name.startswith("asset.") and key in p.name]
    with zipfile.ZipFile(assets[0]) as archive:
        names = set(archive.namelist())
        boto3 = archive.read("python/boto3/__init__.py").decode()
    assert "python/botocore/__init__.py" in names
    assert f"__version__ = '{sdk.NEEDS['boto3']}'" in boto3


def test_only_the_api_function_serves_http(template):
    """The stack marks every other function BEATLESS_FUNCTION=worker: app.py then registers no
    route there and their cold start skips the faces (issue 19)."""
    functions = of_type(template, "AWS::Serverless::Function")
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables.get("BEATLESS_FUNCTION") == (None if name == "APIHandler" else "worker")
