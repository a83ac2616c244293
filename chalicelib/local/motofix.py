"""moto as ``make run`` uses it: TransactWriteItems without its whole-table copies, and two
per-request costs that grow with the state or the request rate taken out (below).

To roll a failed transaction back, moto deep-copies every table the transaction touches before it
starts, so each transaction costs time in proportion to the tables' size: creating the 1,000th
job (job item + name guard, one transaction) copied the whole jobs table, and creates slowed to
a few a second as the tables grew. Here the backup is of the touched items only, and the rollback
puts those back; the outcome is moto's own (the same conditions, errors and cancellation
reasons), and AWS is not involved: it is the emulator's cost, not beatless's.

Two more, found profiling a burst of fires (issue 17): moto's server lists its package folder
(``os.listdir`` and an ``isdir`` per service, ~250) on every request to find the service, inside
the dispatcher's one lock, so requests queued behind file-system calls; the list is now read
once. And each message a ReceiveMessage hands out checks its retention period by computing all
the queue's attributes three times, each counting the queue's messages, so receiving a burst of
N messages cost N²; the check now reads the queue's retention period itself. Last, moto parses
an UpdateExpression twice and lexes a ConditionExpression twice per UpdateItem, character by
character, and a fire's and a run's updates have long expressions (a quarter of a fire's time in
moto); both results depend on the expression's text alone, so each text is parsed once (moto
copies the parsed tree before it works on it; an invalid expression still raises every time).
That copy is made from the tree's pickle, kept with it (a deep copy walked the tree object by
object), and moto's checks that no kind of clause appears twice and no two actions touch
overlapping paths, which it repeats at every node of the tree (quadratic in its size), are made
once on the whole tree, going through moto's own walk only when the whole tree fails one, to
raise the exact error moto raises. Answers: moto serializes every DynamoDB attribute value
through the API model, trying each of its ten members under several aliases, a fifth of a
fire's time in moto; a plain string, number, boolean or null value (``{"S": "x"}``) is written
as it is, which is what that walk writes for it (lists, maps, sets and binaries still take
moto's walk). And moto lists its handler class's methods (``inspect.getmembers``) on every
request: once per class now.
"""

from __future__ import annotations

import copy
import json
import pickle
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
    undo_modules = _list_modules_once()
    undo_retention = _retention_of_the_queue()
    undo_parsing = _parse_each_expression_once()
    undo_serializing = _plain_attribute_values_as_they_are()
    undo_method_names = _method_names_once()

    def undo() -> None:
        backend.transact_write_items = original  # type: ignore[method-assign]
        models.copy = module_copy
        undo_modules()
        undo_retention()
        undo_parsing()
        undo_serializing()
        undo_method_names()

    return undo


def _list_modules_once() -> Callable[[], None]:
    """moto's service folders, listed once (the server looked them up on every request)."""
    from moto import backends

    original = backends.list_of_moto_modules
    listed = tuple(original())
    backends.list_of_moto_modules = lambda: listed  # type: ignore[assignment,return-value]

    def undo() -> None:
        backends.list_of_moto_modules = original  # type: ignore[assignment]

    return undo


def _retention_of_the_queue() -> Callable[[], None]:
    """A received message's retention check reads the queue's period, not all its attributes
    (each of which counts the queue's messages): the same answer, without the N² receive."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    original = SQSBackend.is_message_valid_based_on_retention_period

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Message
    ) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )

    def undo() -> None:
        SQSBackend.is_message_valid_based_on_retention_period = original  # type: ignore[method-assign]

    return undo


#: Distinct expression texts remembered (an application has a few dozen shapes).
PARSED = 1024


def _parse_each_expression_once() -> Callable[[], None]:
    """UpdateExpression trees and ConditionExpression tokens, by their text."""
    from collections import deque
    from functools import lru_cache

    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.__dict__["make"]  # the classmethod itself, to put back
    lex = ConditionExpressionParser._lex_condition_expression
    parse = ConditionExpressionParser.parse
    to_be_processed_before = DepthFirstTraverser.nodes_to_be_processed
    processed: dict[type, tuple[type, ...]] = {}
    module_deepcopy = validators.deepcopy
    checks = {
        validators.ActionCountValidator: validators.ActionCountValidator.verify_action_counts,
        validators.OverlappingPathsValidator: (
            validators.OverlappingPathsValidator.check_for_overlapping_paths
        ),
    }
    walks = {cls: cls.traverse for cls in checks}

    @lru_cache(maxsize=PARSED)
    def parsed(expression: str) -> Any:
        tree = make.__func__(UpdateExpressionParser, expression)
        pickled = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        tree._pickled = pickled  # after the dump: the copies do not carry it
        return tree

    @lru_cache(maxsize=PARSED)
    def lexed(expression: str) -> tuple[Any, ...]:
        # The tokens are named tuples that nothing changes: shared by every parse of the text.
        return tuple(lex(ConditionExpressionParser(expression, None, None)))

    def copied(value: Any, memo: Any = None) -> Any:
        pickled = getattr(value, "_pickled", None)
        if pickled is not None and memo is None:
            return pickle.loads(pickled)
        return copy.deepcopy(value, memo)

    def checked_once(check: Callable[[Any, Any], Any], walk: Callable[..., Any]) -> Any:
        def traverse(self: Any, node: Any) -> Any:
            # Each level's clauses and paths are among the whole tree's, so a whole tree that
            # passes has no level that fails; one that fails goes through moto's walk, which
            # raises the error moto raises.
            if isinstance(node, validators.UpdateExpression):
                try:
                    check(self, node)
                except Exception:
                    return walk(self, node)
                return node
            return walk(self, node)

        return traverse

    @lru_cache(maxsize=PARSED)
    def condition(expression: str, names: str, values: str) -> tuple[Any, tuple[str, ...], ...]:
        parser = ConditionExpressionParser(expression, json.loads(names), json.loads(values))
        op = parse(parser)
        return op, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found)

    def cached_parse(self: Any) -> Any:
        # moto parses an UpdateItem's condition twice (to check the names used, then to apply
        # it): the second is this cache's. The condition tree is only read once built.
        if not self.condition_expression:
            return parse(self)
        try:
            key = (
                json.dumps(self.expression_attribute_names, sort_keys=True),
                json.dumps(self.expression_attribute_values, sort_keys=True),
            )
        except TypeError:  # not plain JSON: moto's own parse
            return parse(self)
        op, names, values = condition(self.condition_expression, *key)
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return op

    def to_be_processed(self: Any) -> tuple[type, ...]:
        # moto rebuilds this tuple (and the map it comes from) at every node it walks.
        kinds = processed.get(type(self))
        if kinds is None:
            kinds = processed[type(self)] = tuple(self._processing_map())
        return kinds

    def cached_make(cls: Any, expression: str) -> Any:
        return parsed(expression)

    def cached_lex(self: Any) -> Any:
        return deque(lexed(self.condition_expression))

    UpdateExpressionParser.make = classmethod(cached_make)  # type: ignore[method-assign,assignment]
    ConditionExpressionParser._lex_condition_expression = cached_lex  # type: ignore[method-assign]
    ConditionExpressionParser.parse = cached_parse  # type: ignore[method-assign]
    DepthFirstTraverser.nodes_to_be_processed = to_be_processed  # type: ignore[method-assign]
    validators.deepcopy = copied
    for cls, check in checks.items():
        cls.traverse = checked_once(check, walks[cls])  # type: ignore[method-assign]

    def undo() -> None:
        UpdateExpressionParser.make = make  # type: ignore[method-assign]
        ConditionExpressionParser._lex_condition_expression = lex  # type: ignore[method-assign]
        ConditionExpressionParser.parse = parse  # type: ignore[method-assign]
        DepthFirstTraverser.nodes_to_be_processed = to_be_processed_before  # type: ignore[method-assign]
        validators.deepcopy = module_deepcopy
        for cls, walk in walks.items():
            cls.traverse = walk  # type: ignore[method-assign]

    return undo


def _plain_attribute_values_as_they_are() -> Callable[[], None]:
    """A DynamoDB ``{"S"|"N": str}`` or ``{"BOOL"|"NULL": bool}`` value is serialized as it is."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure

    def serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and type(value) is dict
            and len(value) == 1
            and not getattr(self._value_picker, "response_transformers", None)
        ):
            ((kind, plain),) = value.items()
            if (kind in ("S", "N") and type(plain) is str) or (
                kind in ("BOOL", "NULL") and type(plain) is bool
            ):
                self._default_serialize(serialized, {kind: plain}, shape, key)
                return
        original(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize  # type: ignore[method-assign]

    def undo() -> None:
        BaseJSONSerializer._serialize_type_structure = original  # type: ignore[method-assign]

    return undo


def _method_names_once() -> Callable[[], None]:
    """The method names of a moto handler class, listed once per class."""
    from functools import lru_cache

    from moto.core import responses

    original = responses.method_names_from_class
    listed = lru_cache(maxsize=None)(lambda cls: tuple(original(cls)))
    responses.method_names_from_class = lambda cls: list(listed(cls))  # type: ignore[assignment]

    def undo() -> None:
        responses.method_names_from_class = original  # type: ignore[assignment]

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
