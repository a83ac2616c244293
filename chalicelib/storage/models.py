"""PynamoDB models: the single source of table definitions for the app, ``make run`` and infra.

Access patterns (no Scan anywhere on a request path):
- jobs: get by (tenant, job_id); list a tenant's jobs oldest first = Query on the hash key.
- names: (tenant, name) → job_id; a conditional put in the same transaction as the job makes
  names unique per tenant, which no index can enforce.
- runs: get by (tenant, run_id); a tenant's runs newest first = Query on the hash key,
  descending; a job's runs = Query on the ``by-job`` index (hash ``job_key`` = tenant#job).
- keys: get by key hash (the authorizer's only lookup); a tenant's keys = ``by-tenant`` index.
Table names, region and endpoint are bound at first use by ``storage.bind`` (never at import).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class _Meta:
    billing_mode = "PAY_PER_REQUEST"


class JobModel(Model):
    """A job definition; the item is the source of truth its EventBridge schedules follow."""

    class Meta(_Meta):
        table_name = "beatless-jobs"

    tenant = UnicodeAttribute(hash_key=True)
    job_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    task = UnicodeAttribute()
    args = JSONAttribute(default=list)
    kwargs = JSONAttribute(default=dict)
    data = JSONAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    queue = UnicodeAttribute(default="default")
    overlap = UnicodeAttribute(default="allow")
    schedule_input = JSONAttribute(default=dict)  # the schedule fields as the user sent them
    spec = JSONAttribute()  # ScheduleSpec.to_dict(): absolute, re-parsable
    schedule_names = JSONAttribute(default=list)  # EventBridge schedules that exist for it
    next_run_at = UTCDateTimeAttribute(null=True)
    last_run_at = UTCDateTimeAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)
    total_run_count = NumberAttribute(default=0)
    created_by = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class JobNameModel(Model):
    """Uniqueness guard for job names within a tenant."""

    class Meta(_Meta):
        table_name = "beatless-names"

    tenant = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()


class RunsByJobIndex(GlobalSecondaryIndex["RunModel"]):
    """A job's runs, newest first (run ids are time-ordered)."""

    class Meta:
        index_name = "by-job"
        projection = AllProjection()

    job_key = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)


class RunModel(Model):
    """One execution of a task or step list (udata task, Alteryx job, Vitam async task)."""

    class Meta(_Meta):
        table_name = "beatless-runs"

    tenant = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute(null=True)
    job_key = UnicodeAttribute(null=True)  # "tenant#job_id", the by-job index key
    task = UnicodeAttribute(null=True)
    steps = JSONAttribute(default=list)
    args = JSONAttribute(default=list)
    kwargs = JSONAttribute(default=dict)
    data = JSONAttribute(null=True)
    status = UnicodeAttribute(default="QUEUED")
    attempt = NumberAttribute(default=1)
    queue = UnicodeAttribute(default="default")
    scheduled_time = UTCDateTimeAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    result = JSONAttribute(null=True)
    exc = UnicodeAttribute(null=True)
    traceback = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    cancel_requested = BooleanAttribute(default=False)
    lease_expires_at = UTCDateTimeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # DynamoDB TTL: retention of finished runs
    by_job = RunsByJobIndex()


class KeysByTenantIndex(GlobalSecondaryIndex["ApiKeyModel"]):
    class Meta:
        index_name = "by-tenant"
        projection = AllProjection()

    tenant = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute(range_key=True)


class ApiKeyModel(Model):
    """An API key, stored only as its hash."""

    class Meta(_Meta):
        table_name = "beatless-keys"

    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    tenant = UnicodeAttribute()
    role = UnicodeAttribute(default="user")
    owner = UnicodeAttribute(default="")
    disabled = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    by_tenant = KeysByTenantIndex()


ALL_MODELS: tuple[type[Model], ...] = (JobModel, JobNameModel, RunModel, ApiKeyModel)
