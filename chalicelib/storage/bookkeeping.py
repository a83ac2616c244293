"""Writes to a job item that leave its ``version`` alone.

``version`` locks the user's definition: PUT and PATCH send the version they read. Counters and
markers the worker keeps (runs counted, last run, next run, finished, schedule names) must not
bump it, or a job firing every ten seconds would make every versioned update a conflict.
PynamoDB increments a VersionAttribute on every update, so these go through its low-level
table connection, conditional all the same."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pynamodb.constants import KEY
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.storage.models import JobModel


def job_update(
    tenant: str, job_id: str, actions: list[Action], condition: Condition | None = None
) -> dict[str, Any]:
    """The UpdateItem request (for a transaction's update list)."""
    return JobModel._get_connection().get_operation_kwargs(
        tenant, range_key=job_id, key=KEY, actions=actions, condition=condition
    )


def update_job(
    tenant: str, job_id: str, actions: list[Action], condition: Condition | None = None
) -> None:
    """Apply ``actions`` to the job now; raises UpdateError if ``condition`` fails."""
    JobModel._get_connection().update_item(
        tenant, range_key=job_id, actions=actions, condition=condition
    )


# -- a fire, decided on its job without a transaction ----------------------------------------

#: Fires the job item remembers, newest first: each one's scheduled time in ms, negated for a
#: fire recorded SKIPPED by the overlap policy. With ``fired_last`` (the latest fire admitted
#: in order) they make the count of a fire idempotent without a transaction (firing.py).
REMEMBERED = 4
SLOTS = tuple(f"fired_{i}" for i in range(REMEMBERED))
LAST = "fired_last"
#: How ``fired_last`` moves: "after" requires the fire to be later (or, with none, later than
#: the job's last write) and sets it; "init" requires it absent (a new job, or one a job write
#: rewrote) and sets it to at least now; "keep" requires it at or after the fire (a late fire)
#: and leaves it.
LAST_MOVES = ("after", "init", "keep")


class FireRefused(Exception):
    """A fire's conditional update failed. ``item`` is the job as it is now (the raw item
    DynamoDB returned with the failure), None when it returned none (no such job, or a
    failure that did not say)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the job did not admit the fire as expected")
        self.item = item


def remembered(item: dict[str, Any], when_ms: int) -> str | None:
    """Whether the job item remembers the fire at ``when_ms``: "counted", "skipped" or None."""
    for slot in SLOTS:
        value = item.get(slot, {}).get("N")
        if value is not None and int(value) == when_ms:
            return "counted"
        if value is not None and int(value) == -when_ms:
            return "skipped"
    return None


def last_move(item: dict[str, Any], when_ms: int) -> str:
    """The ``fired_last`` move a fire at ``when_ms`` makes on this item (LAST_MOVES)."""
    last = item.get(LAST, {}).get("N")
    if last is None:
        return "init"
    return "after" if when_ms > int(last) else "keep"


def record_fire(
    tenant: str,
    job_id: str,
    when_ms: int,
    *,
    when_text: str,
    spec_text: str,
    overlap: str | None,
    repeats: int | None,
    move: str,
    count: dict[str, Any] | None,
    now_ms: int,
) -> dict[str, Any]:
    """Decide the fire at ``when_ms`` on its job in one conditional UpdateItem; returns the
    job item as it was before (the run is built from it: no GetItem).

    The condition is what the decision was made on: the job exists, is enabled and not
    finished, its spec is ``spec_text`` (as stored) and its overlap policy ``overlap`` (None:
    anything but skip), ``repeats`` are not used up, the fire is not remembered, and
    ``fired_last`` allows ``move``. ``count`` (total and fire counts, last run, next run,
    finished) is applied for a fire that runs; None remembers the fire as skipped, counting
    nothing. Raises FireRefused when the condition fails."""
    names = {"#id": "job_id", "#en": "enabled", "#fin": "finished_at", "#sp": "spec"}
    names |= {"#ov": "overlap", "#last": LAST}
    names |= {f"#f{i}": slot for i, slot in enumerate(SLOTS)}
    values: dict[str, Any] = {
        ":true": {"BOOL": True},
        ":spec": {"S": spec_text},
        ":ms": {"N": str(when_ms)},
        ":neg": {"N": str(-when_ms)},
        ":zero": {"N": "0"},
    }
    conditions = [
        "attribute_exists(#id)",
        "#en = :true",
        "attribute_not_exists(#fin)",
        "#sp = :spec",
        "#ov = :ov" if overlap is not None else "(attribute_not_exists(#ov) OR #ov <> :skip)",
    ]
    values |= {":ov": {"S": overlap}} if overlap is not None else {":skip": {"S": "skip"}}
    conditions += [
        f"(attribute_not_exists(#f{i}) OR (#f{i} <> :ms AND #f{i} <> :neg))"
        for i in range(REMEMBERED)
    ]
    shifts = [f"#f{i} = if_not_exists(#f{i - 1}, :zero)" for i in range(REMEMBERED - 1, 0, -1)]
    sets = [*shifts, "#f0 = " + (":ms" if count is not None else ":neg")]
    removes: list[str] = []
    if move == "after":
        # A job item without ``fired_last`` is new, or was rewritten by a job write (which
        # drops what this remembers); no fire later than that write can have been decided.
        names["#upd"] = "updated_at"
        values[":when"] = {"S": when_text}
        conditions.append(
            "((attribute_exists(#last) AND #last < :ms)"
            " OR (attribute_not_exists(#last) AND #upd < :when))"
        )
        sets.append("#last = :ms")
    elif move == "init":
        conditions.append("attribute_not_exists(#last)")
        values[":init"] = {"N": str(max(when_ms, now_ms))}
        sets.append("#last = :init")
    else:
        conditions.append("(attribute_exists(#last) AND #last >= :ms)")
    if count is not None:
        names |= {"#tc": "total_run_count", "#fc": "fire_count", "#la": "last_run_at"}
        names |= {"#li": "last_run_id", "#nx": "next_run_at"}
        values |= {":one": {"N": "1"}, ":at": {"S": count["last_run_at"]}}
        values[":rid"] = {"S": count["last_run_id"]}
        sets += [
            "#tc = if_not_exists(#tc, :zero) + :one",
            "#fc = if_not_exists(#fc, :zero) + :one",
            "#la = :at",
            "#li = :rid",
        ]
        if repeats is not None:
            conditions.append("(attribute_not_exists(#fc) OR #fc < :rep)")
            values[":rep"] = {"N": str(repeats)}
        if count.get("next_run_at") is not None:
            values[":nx"] = {"S": count["next_run_at"]}
            sets.append("#nx = :nx")
        else:
            removes.append("#nx")
        if count.get("finished_at") is not None:
            names["#sn"] = "schedule_names"
            values |= {":fin": {"S": count["finished_at"]}, ":none": {"S": "[]"}}
            sets += ["#fin = :fin", "#sn = :none"]
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    connection = JobModel._get_connection()
    try:
        answer = connection.connection.client.update_item(
            TableName=connection.table_name,
            Key={"tenant": {"S": tenant}, "job_id": {"S": job_id}},
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise FireRefused(error.response.get("Item")) from None
    return dict(answer.get("Attributes") or {})


def read_job_item(tenant: str, job_id: str) -> dict[str, Any] | None:
    """The job's raw item (with what ``record_fire`` remembers), None if there is none."""
    connection = JobModel._get_connection()
    answer = connection.connection.client.get_item(
        TableName=connection.table_name,
        Key={"tenant": {"S": tenant}, "job_id": {"S": job_id}},
        ConsistentRead=True,
    )
    return answer.get("Item")
