"""DynamoDB storage: models, binding to settings, table creation and cursors."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import TableError
from pynamodb.models import Model

from chalicelib.settings import Settings
from chalicelib.storage.models import (
    ALL_MODELS,
    ApiKeyModel,
    IdempotencyModel,
    JobModel,
    JobNameModel,
    MessageModel,
    RunModel,
    TenantModel,
)

_TABLE_SETTING = {
    JobModel: "jobs_table",
    JobNameModel: "names_table",
    RunModel: "runs_table",
    MessageModel: "messages_table",
    ApiKeyModel: "keys_table",
    TenantModel: "tenants_table",
    IdempotencyModel: "idempotency_table",
}


def bind(settings: Settings) -> None:
    """Point every model at the tables, region and endpoint of ``settings``.

    PynamoDB caches one connection per model and only rebuilds it when the table name changes,
    so the cached connection is dropped here too, but only when something changed: building a
    botocore client costs more than most requests. Every model then shares one connection."""
    for model in ALL_MODELS:
        wanted = (getattr(settings, _TABLE_SETTING[model]), settings.region, settings.endpoint_url)
        if (model.Meta.table_name, model.Meta.region, model.Meta.host) != wanted:
            model.Meta.table_name, model.Meta.region, model.Meta.host = wanted
            model._connection = None
    _share_connection()


def _share_connection() -> None:
    """Point every model's table connection at JobModel's connection. PynamoDB gives each model
    its own, so its own botocore session, client and HTTP pool: a cold start paid for a client
    (and a TLS handshake) per model it used, each client's build parsing DynamoDB's service
    model again. A connection serves any table whose schema it was given (transactions across
    tables already used JobModel's); the clients are built on first use, not here."""
    shared = JobModel._get_connection().connection
    for model in ALL_MODELS:
        table = model._get_connection()
        if table.connection is shared:
            continue
        try:
            shared.get_meta_table(table.table_name)
        except TableError:
            shared.add_meta_table(table.get_meta_table())
        table.connection = shared


def connection() -> Connection:
    """The low-level connection the models share (for transactions across tables)."""
    return JobModel._get_connection().connection


def create_tables(settings: Settings) -> list[str]:
    """Create any missing table (``make run`` and tests; infra declares the same keys)."""
    bind(settings)
    created = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
        else:
            _add_missing_indexes(model)
    return created


def _add_missing_indexes(model: type[Model]) -> None:
    """Add the indexes a table kept from an older version lacks (``make run``'s restored state),
    as a deploy adds them to the deployed table."""
    wanted = model._get_schema().get("global_secondary_indexes", [])
    if not wanted:
        return
    client = model._get_connection().connection.client
    table = client.describe_table(TableName=model.Meta.table_name)["Table"]
    have = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    for index in wanted:
        if index["index_name"] in have:
            continue
        create = {
            "IndexName": index["index_name"],
            "KeySchema": index["key_schema"],
            "Projection": index["projection"],
        }
        client.update_table(
            TableName=model.Meta.table_name,
            AttributeDefinitions=index["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[{"Create": create}],
        )


__all__ = [
    "ApiKeyModel",
    "IdempotencyModel",
    "JobModel",
    "JobNameModel",
    "MessageModel",
    "Model",
    "RunModel",
    "TenantModel",
    "bind",
    "connection",
    "create_tables",
]
