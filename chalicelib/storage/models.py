"""PynamoDB models: the single source of table definitions for the app, ``make run`` and infra.

Access patterns (no Scan anywhere on a request path):
- jobs: get by (tenant, job_id); list a tenant's jobs oldest first = Query on the hash key.
- names: (tenant, name) → job_id; a conditional put in the same transaction as the job makes
  names unique per tenant, which no index can enforce.
- runs: get by (tenant, run_id); a tenant's runs newest first = Query on the hash key,
  descending; a job's runs = Query on the ``by-job`` index (hash ``job_key`` = tenant#job);
  runs whose lease expired, and QUEUED runs whose message is overdue = Query on the sparse
  ``by-lease`` index (only RUNNING and QUEUED runs carry ``lease_shard``), which the reaper
  needs and no key could give.
- messages: a run's log = Query on ``run_key`` (tenant#run), one item per message, so a long
  log never meets DynamoDB's 400 KB item limit.
- keys: get by key hash (the authorizer's only lookup); a tenant's keys = ``by-tenant`` index.
- tenants: a tenant's settings (signing secret, allowed hosts) = get by tenant; its job
  count (the jobs cap) is a counter on the same item.
- runs in flight of a tenant (the cap on them) = a COUNT Query on the sparse, keys-only
  ``in-flight`` index (hash ``tenant``, range ``lease_shard``).
- idempotency: a request's record = get by ``tenant#principal#Idempotency-Key``; expires by TTL.
Table names, region and endpoint are bound at first use by ``storage.bind`` (never at import).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.vocabulary import Overlap, Trigger


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
    task = UnicodeAttribute(null=True)  # a registered task, or null when ``target`` is set
    target = JSONAttribute(null=True)  # {"type": "http", ...}: work that needs no code
    args = JSONAttribute(default=list)
    kwargs = JSONAttribute(default=dict)
    data = JSONAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    queue = UnicodeAttribute(default="default")
    overlap = UnicodeAttribute(default=Overlap.ALLOW.value)
    schedule_input = JSONAttribute(default=dict)  # the schedule fields as the user sent them
    spec = JSONAttribute()  # ScheduleSpec.to_dict(): absolute, re-parsable
    schedule_names = JSONAttribute(default=list)  # EventBridge schedules that exist for it
    next_run_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)  # repeats used up, or nothing left to fire
    timeout_seconds = NumberAttribute(default=300)
    retry = JSONAttribute(null=True)  # {max_attempts, initial_seconds, multiplier, max_seconds}
    last_run_at = UTCDateTimeAttribute(null=True)
    last_run_id = UnicodeAttribute(null=True)
    total_run_count = NumberAttribute(default=0)  # every run: scheduled fires and triggers
    #: Scheduled fires that ran: what ``repeats`` counts (a manual trigger is an extra run,
    #: not one of the schedule's, as in Temporal and EventBridge Scheduler).
    fire_count = NumberAttribute(default=0)
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


class RunsByLeaseIndex(GlobalSecondaryIndex["RunModel"]):
    """RUNNING runs by lease expiry and QUEUED runs by dispatch deadline (``RUNNING#n`` and
    ``QUEUED#n``), sharded so no partition gets hot; sparse: a finished run drops
    ``lease_shard`` and leaves the index."""

    class Meta:
        index_name = "by-lease"
        projection = AllProjection()

    lease_shard = UnicodeAttribute(hash_key=True)
    lease_expires_at = UnicodeAttribute(range_key=True)


class RunsInFlightIndex(GlobalSecondaryIndex["RunModel"]):
    """A tenant's runs QUEUED or RUNNING: sparse on ``lease_shard``, which a run carries
    exactly then. Keys only: the runs-in-flight cap counts it (``quotas.admit_run``)."""

    class Meta:
        index_name = "in-flight"
        projection = KeysOnlyProjection()

    tenant = UnicodeAttribute(hash_key=True)
    lease_shard = UnicodeAttribute(range_key=True)


class AttemptEntry(MapAttribute):
    """One ended attempt of a run: appended (DynamoDB ``list_append``) in the same conditional
    update that ends the attempt, whether the run is then requeued or done."""

    number = NumberAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute()
    outcome = UnicodeAttribute()  # SUCCEEDED | FAILED | CANCELLED | TIMED_OUT
    error = UnicodeAttribute(null=True)  # "Exc: message"; null for SUCCEEDED and CANCELLED


class RunModel(Model):
    """One execution of a task or step list (udata task, Alteryx job, Vitam async task).

    The top-level outcome fields (``status``, ``result``, ``exc``, ``error``, ``traceback``,
    ``reason``, ``retry_at``, ``ended_at``) describe the run's final outcome, or while it waits
    for another attempt the failure it waits after; ``attempts`` lists every attempt that ended.
    """

    class Meta(_Meta):
        table_name = "beatless-runs"

    tenant = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute(null=True)
    job_key = UnicodeAttribute(null=True)  # "tenant#job_id", the by-job index key
    task = UnicodeAttribute(null=True)  # the first step's task, for filters and display
    #: [{task, args, kwargs, status, result, ...}]; a target step holds ``target`` for ``task``
    steps = JSONAttribute(default=list)
    data = JSONAttribute(null=True)
    status = UnicodeAttribute(default="QUEUED")
    attempt = NumberAttribute(default=1)
    retry = JSONAttribute(null=True)
    queue = UnicodeAttribute(default="default")
    trigger = UnicodeAttribute(default=Trigger.API.value)
    scheduled_time = UTCDateTimeAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    retry_at = UTCDateTimeAttribute(null=True)
    result = JSONAttribute(null=True)
    exc = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)  # the exception's message
    traceback = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)  # why SKIPPED, CANCELLED or TIMED_OUT
    cancel_requested = BooleanAttribute(default=False)
    timeout_seconds = NumberAttribute(default=300)
    lease_shard = UnicodeAttribute(null=True)
    lease_expires_at = UnicodeAttribute(null=True)  # RFC 3339, so it sorts in the index
    message_count = NumberAttribute(default=0)
    created_by = UnicodeAttribute(null=True)
    #: What a face was sent and shows back unchanged (Alteryx ``priority``, ``workerTag``).
    labels = JSONAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # DynamoDB TTL: retention of finished runs
    attempts = ListAttribute(of=AttemptEntry, default=list)  # ended attempts, in order
    by_job = RunsByJobIndex()
    by_lease = RunsByLeaseIndex()
    in_flight = RunsInFlightIndex()


class MessageModel(Model):
    """One line of a run's log."""

    class Meta(_Meta):
        table_name = "beatless-messages"

    run_key = UnicodeAttribute(hash_key=True)  # "tenant#run_id"
    seq = UnicodeAttribute(range_key=True)  # attempt then counter, zero-padded: sorts in order
    at = UTCDateTimeAttribute()
    level = UnicodeAttribute(default="INFO")
    text = UnicodeAttribute()
    step = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


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


class TenantModel(Model):
    """A tenant's settings: the HTTP targets' signing secret (the current one, and the previous
    one while it stays valid after a rotation) and the hosts its HTTP targets may call. Created
    on first use; get by tenant is its only access pattern."""

    class Meta(_Meta):
        table_name = "beatless-tenants"

    tenant = UnicodeAttribute(hash_key=True)
    signing_secret = UnicodeAttribute(null=True)
    signing_created_at = UTCDateTimeAttribute(null=True)
    previous_secret = UnicodeAttribute(null=True)
    previous_expires_at = UTCDateTimeAttribute(null=True)
    allowed_hosts = JSONAttribute(null=True)  # ["api.example.com", "*.example.org"]
    #: The tenant's jobs, moved in each job create's and delete's transaction (quotas.py).
    job_count = NumberAttribute(null=True)


class IdempotencyModel(Model):
    """One ``Idempotency-Key`` of one caller: what the request was (its fingerprint), whether it
    is still in progress (under a lease) and, once completed, the answer a retry replays.
    Written first by a conditional put, so two requests with one key never both do the work."""

    class Meta(_Meta):
        table_name = "beatless-idempotency"

    key = UnicodeAttribute(hash_key=True)  # "tenant#principal#Idempotency-Key"
    fingerprint = UnicodeAttribute()  # sha256 of method, route, path parameters, body
    status = UnicodeAttribute()  # IN_PROGRESS | COMPLETED
    token = UnicodeAttribute()  # the holder of the lease (a random value per attempt)
    lease_until = NumberAttribute()  # epoch seconds; an older IN_PROGRESS may be taken over
    started_ms = NumberAttribute()  # the first attempt's time: seeds its ids, kept by retries
    response = JSONAttribute(null=True)  # {"status", "body", "headers"} once COMPLETED
    expires_at = TTLAttribute()  # DynamoDB TTL: 24 h after the first attempt


ALL_MODELS: tuple[type[Model], ...] = (
    JobModel,
    JobNameModel,
    RunModel,
    MessageModel,
    ApiKeyModel,
    TenantModel,
    IdempotencyModel,
)
