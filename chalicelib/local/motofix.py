"""moto as ``make run`` uses it: TransactWriteItems without its whole-table copies.

To roll a failed transaction back, moto deep-copies every table the transaction touches before it
starts, so each transaction costs time in proportion to the tables' size: creating the 1,000th
job (job item + name guard, one transaction) copied the whole jobs table, and creates slowed to
a few a second as the tables grew. Here the backup is of the touched items only, and the rollback
puts those back; the outcome is moto's own (the same conditions, errors and cancellation
reasons), and AWS is not involved: it is the emulator's cost, not beatless's.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

_inside = threading.local()


def install() -> Callable[[], None]:
    """Patch moto's DynamoDB backend in this process; returns the undo."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    module_copy = models.copy

    class _Copy:
        """``copy`` for moto's module: a table is not copied inside a transaction."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(_inside, "active", False) and isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            key = op.get("Key") or op.get("Item") or {}
            if table is None or table.hash_key_attr not in key:
                continue  # moto refuses it below, before it writes anything
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            saved.append(
                (table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key)))
            )
        _inside.active = True
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                _put_back(table, hash_key, range_key, item)
            raise
        finally:
            _inside.active = False

    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = _Copy()  # type: ignore[assignment]

    def undo() -> None:
        backend.transact_write_items = original  # type: ignore[method-assign]
        models.copy = module_copy

    return undo


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """The item as it was before the transaction (absent if it was absent)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item
