"""Throttling and quotas in the synthesized stack (issue 19 §4): API Gateway throttles every
method of the stage (a JSON 429 with Retry-After when it does), the per-tenant caps reach every
function, each overridable with CDK context; the runs-in-flight index is keys only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stack import CAP_CONTEXT, THROTTLE_DEFAULTS, whole_numbers
from tests.test_infra_targets import synth

CONTEXT = {
    "apiRateLimit": "7",
    "apiBurstLimit": "9",
    "maxJobsPerTenant": "5000",
    "maxRunsInFlightPerTenant": "0",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(tmp_path_factory.mktemp("cdk-quotas"), CONTEXT)


@pytest.mark.slow  # a synth takes a few seconds (node + chalice package)
def test_context_throttles_every_method_of_the_api_stage(template):
    api = template["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"
    assert api["Properties"]["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": 7,
            "ThrottlingBurstLimit": 9,
        }
    ]
    responses = api["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    throttled = responses["THROTTLED"]
    assert throttled["statusCode"] == 429
    assert throttled["responseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    body = json.loads(throttled["responseTemplates"]["application/json"])
    assert body["error"]["code"] == "throttled"
    assert "MISSING_AUTHENTICATION_TOKEN" in responses  # still there beside it


@pytest.mark.slow
def test_context_caps_reach_every_function(template):
    functions = {
        name: r["Properties"]["Environment"]["Variables"]
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert len(functions) == 7
    for name, variables in functions.items():
        assert variables["BEATLESS_MAX_JOBS_PER_TENANT"] == "5000", name
        assert variables["BEATLESS_MAX_RUNS_IN_FLIGHT_PER_TENANT"] == "0", name


@pytest.mark.slow
def test_the_in_flight_index_is_keys_only(template):
    (runs,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table" and r["Properties"]["TableName"] == "beatless-runs"
    ]
    projections = {i["IndexName"]: i["Projection"] for i in runs["GlobalSecondaryIndexes"]}
    assert projections == {
        "by-job": {"ProjectionType": "ALL"},
        "by-lease": {"ProjectionType": "ALL"},
        "in-flight": {"ProjectionType": "KEYS_ONLY"},
    }


def test_without_context_the_defaults_apply():
    assert whole_numbers(lambda key: None, THROTTLE_DEFAULTS, 1) == {
        "apiRateLimit": 100,
        "apiBurstLimit": 200,
    }
    caps = whole_numbers(lambda key: "", {k: d for k, (_, d) in CAP_CONTEXT.items()}, 0)
    assert caps == {"maxJobsPerTenant": 1000, "maxRunsInFlightPerTenant": 100}


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "fast", "1e3"])
def test_a_throttle_must_be_a_positive_whole_number(value):
    with pytest.raises(ValueError, match="apiRateLimit"):
        whole_numbers({"apiRateLimit": value}.get, THROTTLE_DEFAULTS, 1)


def test_a_cap_of_zero_is_allowed_and_a_negative_one_refused():
    defaults = {k: d for k, (_, d) in CAP_CONTEXT.items()}
    assert whole_numbers({"maxJobsPerTenant": "0"}.get, defaults, 0)["maxJobsPerTenant"] == 0
    with pytest.raises(ValueError, match="maxJobsPerTenant"):
        whole_numbers({"maxJobsPerTenant": "-5"}.get, defaults, 0)
