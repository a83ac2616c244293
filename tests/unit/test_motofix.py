"""make run's moto patch (chalicelib/local/motofix.py): a TransactWriteItems has moto's outcome
(applied whole, or cancelled with nothing changed) without copying the tables it touches."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.local import motofix


@pytest.fixture(params=["moto", "patched"])
def dynamodb(request: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for table, keys in (("simple", ["pk"]), ("composite", ["pk", "sk"])):
            client.create_table(
                TableName=table,
                KeySchema=[
                    {"AttributeName": k, "KeyType": t}
                    for k, t in zip(keys, ["HASH", "RANGE"], strict=False)
                ],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        client.put_item(TableName="simple", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
        client.put_item(TableName="simple", Item={"pk": {"S": "c"}})
        client.put_item(
            TableName="composite", Item={"pk": {"S": "t"}, "sk": {"S": "x"}, "v": {"N": "1"}}
        )
        undo = motofix.install() if request.param == "patched" else (lambda: None)
        try:
            client.patched = request.param == "patched"
            yield client
        finally:
            undo()


def _v(client: Any, table: str, key: dict[str, Any]) -> str | None:
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return item["v"]["N"] if item else None


A = {"pk": {"S": "a"}}
X = {"pk": {"S": "t"}, "sk": {"S": "x"}}
BUMP = {"UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}}


def _writes(last_condition: str) -> list[dict[str, Any]]:
    return [
        {"Update": {"TableName": "simple", "Key": A, **BUMP}},
        {"Update": {"TableName": "composite", "Key": X, **BUMP}},
        {"Put": {"TableName": "simple", "Item": {"pk": {"S": "b"}, "v": {"N": "1"}}}},
        {"Put": {"TableName": "composite", "Item": {"pk": {"S": "t"}, "sk": {"S": "y"}}}},
        {
            "ConditionCheck": {
                "TableName": "simple",
                "Key": {"pk": {"S": "c"}},
                "ConditionExpression": last_condition,
            }
        },
    ]


def test_a_cancelled_transaction_changes_nothing(dynamodb):
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as raised:
        dynamodb.transact_write_items(TransactItems=_writes("attribute_not_exists(pk)"))
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert (_v(dynamodb, "simple", A), _v(dynamodb, "composite", X)) == ("1", "1")
    assert _v(dynamodb, "simple", {"pk": {"S": "b"}}) is None
    assert dynamodb.get_item(TableName="composite", Key={**X, "sk": {"S": "y"}}).get("Item") is None


def test_a_transaction_that_passes_applies_every_write(dynamodb):
    dynamodb.transact_write_items(TransactItems=_writes("attribute_exists(pk)"))
    assert (_v(dynamodb, "simple", A), _v(dynamodb, "composite", X)) == ("2", "2")
    assert _v(dynamodb, "simple", {"pk": {"S": "b"}}) == "1"


def test_the_patched_transaction_copies_no_table(dynamodb, monkeypatch):
    from moto.dynamodb.models.table import Table

    copied: list[type] = []
    real = copy.deepcopy

    def spy(value: Any, memo: Any = None) -> Any:
        copied.append(type(value))
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", spy)
    dynamodb.transact_write_items(TransactItems=_writes("attribute_exists(pk)"))
    assert (Table in copied) is not dynamodb.patched


# The per-request costs taken out of moto (issue 17): each check below runs against moto as it
# is and as patched, and must give the same outcome.

#: A fire's shape (storage/bookkeeping.py): shifted slots, counters, a long condition.
FIRE_UPDATE = (
    "SET f2 = if_not_exists(f1, :zero), f1 = if_not_exists(f0, :zero), f0 = :ms, "
    "#c = if_not_exists(#c, :zero) + :one REMOVE gone"
)
FIRE_CONDITION = (
    "attribute_exists(pk) AND (attribute_not_exists(f0) OR (f0 <> :ms AND f0 <> :neg)) "
    "AND (attribute_not_exists(f1) OR f1 <> :ms) AND (attribute_not_exists(#c) OR #c < :rep)"
)


def _fire(client: Any, ms: int, rep: int = 10) -> dict[str, Any]:
    return client.update_item(
        TableName="simple",
        Key=A,
        UpdateExpression=FIRE_UPDATE,
        ConditionExpression=FIRE_CONDITION,
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":ms": {"N": str(ms)},
            ":neg": {"N": str(-ms)},
            ":rep": {"N": str(rep)},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]


def test_the_same_expressions_with_new_values_update_as_moto_does(dynamodb):
    first = _fire(dynamodb, 1000)
    second = _fire(dynamodb, 2000)
    assert (first["f0"], first["f1"], first["count"]) == ({"N": "1000"}, {"N": "0"}, {"N": "1"})
    assert (second["f0"], second["f1"], second["f2"]) == ({"N": "2000"}, {"N": "1000"}, {"N": "0"})
    assert second["count"] == {"N": "2"}


def test_a_condition_that_fails_with_a_parsed_expression_still_fails(dynamodb):
    _fire(dynamodb, 1000)
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        _fire(dynamodb, 1000)  # the same fire again: f0 = :ms
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        _fire(dynamodb, 3000, rep=1)  # repeats used up
    assert _v(dynamodb, "simple", A) == "1"


@pytest.mark.parametrize(
    ("update", "says"),
    [
        ("SET v = :v SET w = :v", 'The "SET" section can only be used once'),
        ("SET v = :v, v = :v", "Two document paths overlap"),
        ("SET v = :v REMOVE v", "Two document paths overlap"),
        ("SET v = = :v", "Invalid UpdateExpression: Syntax error"),
    ],
)
def test_an_invalid_update_is_refused_as_moto_refuses_it_every_time(dynamodb, update, says):
    for _ in range(2):  # the second time from what the patch keeps
        with pytest.raises(dynamodb.exceptions.ClientError) as raised:
            dynamodb.update_item(
                TableName="simple",
                Key=A,
                UpdateExpression=update,
                ExpressionAttributeValues={":v": {"N": "5"}},
            )
        assert says in raised.value.response["Error"]["Message"]
    assert _v(dynamodb, "simple", A) == "1"


def test_received_messages_keep_moto_retention_rule(dynamodb):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    got = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        got += [m["Body"] for m in batch]
    assert sorted(got, key=int) == [str(i) for i in range(25)]


def test_every_kind_of_attribute_value_is_answered_as_moto_answers_it(dynamodb):
    item = {
        "pk": {"S": "all"},
        "s": {"S": ""},
        "n": {"N": "-1.5"},
        "t": {"BOOL": True},
        "f": {"BOOL": False},
        "z": {"NULL": True},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "m": {"M": {"in": {"S": "x"}, "l": {"L": [{"N": "1"}, {"S": "y"}, {"NULL": True}]}}},
    }
    dynamodb.put_item(TableName="simple", Item=item)
    got = dynamodb.get_item(TableName="simple", Key={"pk": {"S": "all"}})["Item"]
    assert {k: v for k, v in got.items() if k not in ("ss", "ns")} == {
        k: v for k, v in item.items() if k not in ("ss", "ns")
    }
    assert sorted(got["ss"]["SS"]) == ["a", "b"] and sorted(got["ns"]["NS"]) == ["1", "2"]
    old = dynamodb.update_item(
        TableName="simple",
        Key={"pk": {"S": "all"}},
        UpdateExpression="SET s = :s",
        ExpressionAttributeValues={":s": {"S": "new"}},
        ReturnValues="ALL_OLD",
    )["Attributes"]
    assert old["s"] == {"S": ""} and old["b"] == {"B": b"\x00\xff"} and old["m"] == item["m"]
