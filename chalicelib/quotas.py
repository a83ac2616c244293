"""Per-tenant caps: jobs a tenant may have, and runs in flight when the API admits another.

Both are checked without a Scan, and a refusal (``QuotaExceeded``, a 429 with Retry-After)
writes nothing.

- Jobs: a counter on the tenant's item (``TenantModel.job_count``), moved in the same
  transaction as the job and its name guard (``JobService._write``): +1 with the condition
  "below the cap" on a create, -1 on a delete. Exact under concurrency: two creates racing for
  the last slot cannot both commit.
- Runs in flight: a bounded Query (``Select=COUNT``, ``Limit=cap``) on the runs table's sparse
  ``in-flight`` index, whose sort key is ``lease_shard``, which a run carries exactly while it
  is QUEUED or RUNNING. No write on any run transition changes for it (the fire path keeps its
  two calls, the worker its conditional updates), at the price of a soft cap: the index is
  eventually consistent, so admissions racing within its propagation delay (usually well
  under a second) may each see room and pass the cap together. A counter kept at admission and
  at every terminal transition would be exact, but would turn each of those conditional writes
  into a transaction with the tenant item. Scheduled fires are counted but never refused:
  their number is bounded by the jobs cap, and a tenant's ad-hoc runs must not silently skip
  its schedules (docs/operations.md, "Limits").
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.errors import Conflict, QuotaExceeded, condition_failed
from chalicelib.settings import get_settings
from chalicelib.storage import JobModel, RunModel, TenantModel

#: The limits' names, as the 429's body and ``details.limit`` give them.
JOBS = "jobs"
RUNS_IN_FLIGHT = "runs_in_flight"
#: Retry-After of each refusal: a job slot frees only when the tenant deletes a job; a run
#: slot, when one of its runs ends.
JOBS_RETRY_AFTER = 60
RUNS_RETRY_AFTER = 10


def job_count_change(tenant: str, delta: int, *, capped: bool) -> dict[str, Any]:
    """The tenant item's counter update for a transaction that creates (``delta`` 1) or
    deletes (-1) a job: ``{"model", "actions", "condition"}`` for ``TransactWrite.update``.
    A create is conditional on the count being below the cap (``capped``, and a cap set); the
    item is created by the first update, as DynamoDB's ADD does."""
    condition: Condition | None = None
    cap = get_settings().max_jobs_per_tenant
    if delta > 0 and capped and cap:
        condition = TenantModel.job_count.does_not_exist() | (TenantModel.job_count < cap)
    actions: list[Action] = [TenantModel.job_count.add(delta)]
    return {"model": TenantModel(tenant), "actions": actions, "condition": condition}


def jobs_refused(tenant: str) -> QuotaExceeded:
    """The error for a create the jobs cap refused (one consistent read, on that path only)."""
    cap = get_settings().max_jobs_per_tenant
    try:
        count = int(TenantModel.get(tenant, consistent_read=True).job_count or cap)
    except DoesNotExist:
        count = cap
    return QuotaExceeded(
        JOBS,
        f"tenant {tenant} has {count} jobs, the limit is {cap}; delete one to create another",
        count,
        cap,
        JOBS_RETRY_AFTER,
    )


def admit_run(tenant: str) -> None:
    """Raise QuotaExceeded if ``tenant`` has as many runs QUEUED or RUNNING as its cap allows
    (one Query reading at most ``cap`` index keys)."""
    cap = get_settings().max_runs_in_flight_per_tenant
    if not cap:
        return
    count = RunModel.in_flight.count(tenant, limit=cap)
    if count >= cap:
        raise QuotaExceeded(
            RUNS_IN_FLIGHT,
            f"tenant {tenant} has {count} runs queued or running, the limit is {cap}; "
            "retry when some have ended",
            count,
            cap,
            RUNS_RETRY_AFTER,
        )


def recount_jobs(tenant: str) -> int:
    """Set the tenant's job count to the jobs it has (a COUNT Query on its partition): an
    operator's repair, for jobs created before the count existed (an upgrade). The write is
    conditional on the count not having moved while counting, and tried again if it did."""
    for _ in range(5):
        try:
            before = TenantModel.get(tenant, consistent_read=True).job_count
        except DoesNotExist:
            before = None
        count = JobModel.count(tenant, consistent_read=True)
        unmoved = (
            TenantModel.job_count.does_not_exist()
            if before is None
            else TenantModel.job_count == before
        )
        try:
            TenantModel(tenant).update(
                actions=[TenantModel.job_count.set(count)], condition=unmoved
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise
            continue
        return count
    raise Conflict(f"the jobs of tenant {tenant} kept changing while counted; retry")
