"""make run's own AWS calls reach moto in-process (chalicelib/local/inprocess.py): no server is
needed, and each call still passes the snapshot gate, marks the state changed and wakes the SQS
event sources, as it did over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.local import inprocess
from chalicelib.local.launch import free_port
from chalicelib.local.state import Activity, Gate, GatedApp


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's application behind a gate, answering an endpoint where nothing listens."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "local")
    endpoint = f"http://127.0.0.1:{free_port()}"  # free: a call over HTTP would fail
    with mock_aws():  # moto's backends start and end empty around the test
        gate, activity = Gate(), Activity()
        app = GatedApp(DomainDispatcherApplication(create_backend_app), gate, activity)
        undo = inprocess.install(app, endpoint)
        try:
            yield endpoint, gate, activity, app
        finally:
            undo()


def _client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(service, region_name="us-east-1", endpoint_url=endpoint)


def _table(endpoint: str) -> Any:
    dynamodb = _client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def test_calls_to_the_local_endpoint_are_answered_without_a_server(routed):
    endpoint, *_ = routed
    dynamodb = _table(endpoint)
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    item = dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]
    assert item == {"pk": {"S": "a"}, "v": {"N": "1"}}
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName="t", Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    scheduler = _client("scheduler", endpoint)  # a REST protocol too
    assert scheduler.list_schedule_groups()["ScheduleGroups"][0]["Name"] == "default"


def test_a_write_marks_the_state_changed_and_a_read_does_not(routed):
    endpoint, _gate, _activity, app = routed
    dynamodb = _table(endpoint)
    app.dirty.clear()
    dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert not app.dirty.is_set()
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}})
    assert app.dirty.is_set()


def test_a_call_waits_while_a_snapshot_holds_the_gate(routed):
    endpoint, gate, _activity, _app = routed
    dynamodb = _table(endpoint)
    done = threading.Event()

    def write() -> None:
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "b"}})
        done.set()

    with gate.exclusive():
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.5)  # held back: the snapshot sees no half of it
    writer.join(10)
    assert done.is_set()
    assert "Item" in dynamodb.get_item(TableName="t", Key={"pk": {"S": "b"}})


def test_a_message_sent_wakes_the_sqs_event_sources(routed):
    endpoint, _gate, activity, _app = routed
    sqs = _client("sqs", endpoint)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    seen = activity.seen()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert activity.seen() != seen
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"


def test_other_addresses_are_left_to_botocore(routed):
    endpoint, *_ = routed
    handler = inprocess.InProcess(lambda environ, start: [], endpoint)

    class Request:
        url = "https://dynamodb.us-east-1.amazonaws.com/"

    assert handler(Request()) is None
    Request.url = endpoint + "0/"  # another port that starts with the same digits
    assert handler(Request()) is None


def test_it_is_installed_once(routed):
    from botocore.handlers import BUILTIN_HANDLERS

    endpoint, _gate, _activity, app = routed
    with pytest.raises(RuntimeError):
        inprocess.install(app, endpoint)
    assert sum(isinstance(entry[1], inprocess.InProcess) for entry in BUILTIN_HANDLERS) == 1
