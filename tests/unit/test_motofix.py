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
