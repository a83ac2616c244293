"""The alarms under CDK context (issue 19): thresholds given with ``-c`` reach the synthesized
alarms, and ``alarmTopicArn`` makes every alarm notify that topic (the default synth, without
context, is checked in tests/test_infra.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stack import alarm_topic_arn
from tests.test_infra_targets import synth

pytestmark = pytest.mark.slow  # a synth takes a few seconds (node + chalice package)
TOPIC = "arn:aws:sns:us-east-1:123456789012:beatless-alarms"
CONTEXT = {
    "fireLagP99Seconds": "120",
    "failureRatePercent": "2.5",
    "failureRateMinRuns": "20",
    "alarmTopicArn": TOPIC,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(tmp_path_factory.mktemp("cdk-alarms"), CONTEXT)


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_context_thresholds_reach_the_alarms(template):
    found = alarms(template)
    lag = [a for a in found.values() if a.get("MetricName") == "FireLag"]
    assert len(lag) == 3 and {a["Threshold"] for a in lag} == {120_000}
    rate = [a for a in found.values() if "RunsFailed" in json.dumps(a.get("Metrics", []))]
    assert len(rate) == 3 and {a["Threshold"] for a in rate} == {2.5}
    for alarm in rate:
        (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
        assert expression.startswith("IF(runs_") and " >= 20, " in expression


def test_every_alarm_notifies_the_context_topic_into_alarm_and_back_to_ok(template):
    found = alarms(template)
    assert len(found) == 15
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [TOPIC], name
        assert alarm["OKActions"] == [TOPIC], name


@pytest.mark.parametrize(
    "value", ["*", "arn:aws:sns:us-east-1:123456789012:*", "arn:aws:sqs:us-east-1:1:q", "x"]
)
def test_the_alarm_topic_must_be_an_sns_topic_arn(value):
    with pytest.raises(ValueError, match="alarmTopicArn"):
        alarm_topic_arn(value)


def test_no_alarm_topic_is_none():
    assert alarm_topic_arn(None) is None and alarm_topic_arn(" ") is None
    assert alarm_topic_arn(f" {TOPIC} ") == TOPIC
