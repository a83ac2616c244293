"""Writes to a job item that leave its ``version`` alone.

``version`` locks the user's definition: PUT and PATCH send the version they read. Counters and
markers the worker keeps (runs counted, last run, next run, finished, schedule names) must not
bump it, or a job firing every ten seconds would make every versioned update a conflict.
PynamoDB increments a VersionAttribute on every update, so these go through its low-level
table connection, conditional all the same."""

from __future__ import annotations

from typing import Any

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
