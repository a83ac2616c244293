"""Every environment variable beatless reads, in one place, read lazily.

Nothing here runs at import time: ``get_settings()`` reads the environment on first use and
caches it, so the Chalice test client's per-call environment and ``make run``'s overrides apply.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import NamedTuple

ACCOUNT_PLACEHOLDER = "123456789012"
#: The user's task package when BEATLESS_TASK_MODULES is unset: ``tasks/`` beside ``app.py``,
#: which beatless never ships nor edits (``docs/tasks.md``).
DEFAULT_TASK_MODULE = "tasks"
#: The per-tenant caps' variables and defaults (the CDK stack passes its context's values).
MAX_JOBS_ENV = "BEATLESS_MAX_JOBS_PER_TENANT"
MAX_RUNS_ENV = "BEATLESS_MAX_RUNS_IN_FLIGHT_PER_TENANT"
MAX_JOBS_PER_TENANT = 1000
MAX_RUNS_IN_FLIGHT_PER_TENANT = 100


class Settings(NamedTuple):
    """Immutable. A NamedTuple, not a frozen dataclass: every function imports this module, and
    building a dataclass of 30 fields (its generated methods compiled at import) cost as much
    as the rest of the module's imports together (issue 19, cold start)."""

    region: str
    endpoint_url: str | None
    jobs_table: str
    names_table: str
    runs_table: str
    messages_table: str
    keys_table: str
    tenants_table: str
    idempotency_table: str
    queue_prefix: str
    failed_queue: str
    schedule_group: str
    worker_arn: str
    scheduler_role_arn: str
    scheduler_dlq_arn: str
    stage: str
    #: The user's task modules (``BEATLESS_TASK_MODULES``: importable names, comma-separated),
    #: imported on the task registry's first use. Unset: the package ``tasks`` if it exists.
    task_modules: tuple[str, ...]
    #: Whether a named module that is missing is an error (yes, unless the default applies).
    task_modules_required: bool
    version: str
    dapr_app_endpoints: dict[str, str]
    dapr_allowed_hosts: frozenset[str]
    #: Sent to the app as ``dapr-api-token`` on delivery, as Dapr sends its APP_API_TOKEN.
    dapr_app_api_token: str = ""
    #: The OAuth2 tokens' server secret, given directly or as a Secrets Manager secret's ARN.
    token_secret: str = ""
    token_secret_arn: str = ""
    #: Hosts every tenant's HTTP targets may call, on top of each tenant's own list
    #: (``BEATLESS_HTTP_ALLOWED_HOSTS``: ``api.example.com,*.example.org``; ``*``: any host).
    http_allowed_hosts: frozenset[str] = frozenset()
    #: Address kinds an HTTP target may reach (``BEATLESS_ALLOW_PRIVATE_TARGETS``: ``loopback``,
    #: ``private``, ``link-local``, comma-separated, or ``all``); none unless configured.
    allow_private_targets: frozenset[str] = frozenset()
    #: Per-tenant caps (docs/operations.md, "Limits"); 0 turns a cap off. Jobs a tenant may
    #: have (``BEATLESS_MAX_JOBS_PER_TENANT``), and runs QUEUED or RUNNING when the API admits
    #: another (``BEATLESS_MAX_RUNS_IN_FLIGHT_PER_TENANT``).
    max_jobs_per_tenant: int = MAX_JOBS_PER_TENANT
    max_runs_in_flight_per_tenant: int = MAX_RUNS_IN_FLIGHT_PER_TENANT

    def queue_name(self, queue: str) -> str:
        """The SQS queue behind a beatless queue (``high``, ``default``, ``low``)."""
        return f"{self.queue_prefix}{queue}"

    @property
    def scheduler_dlq_name(self) -> str:
        return self.scheduler_dlq_arn.rsplit(":", 1)[-1]

    @property
    def vitam_wait_seconds(self) -> float:
        """How long the Vitam worker face holds ``POST /worker/v1/tasks`` for the step's outcome
        (``BEATLESS_VITAM_WAIT_SECONDS``, default 20: API Gateway cuts requests at 29 s). Vitam's
        worker answers when the step is done; beyond this bound the face answers "retry later"."""
        raw = os.environ.get("BEATLESS_VITAM_WAIT_SECONDS", "")
        try:
            return min(max(float(raw), 0.0), 28.0) if raw.strip() else 20.0
        except ValueError:
            return 20.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment (``BEATLESS_*``; AWS region from the Lambda runtime)."""
    env = os.environ.get
    region = env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1"
    prefix = env("BEATLESS_TABLE_PREFIX", "beatless-")
    account = env("BEATLESS_ACCOUNT_ID", ACCOUNT_PLACEHOLDER)
    return Settings(
        region=region,
        endpoint_url=env("BEATLESS_AWS_ENDPOINT_URL") or None,
        jobs_table=env("BEATLESS_JOBS_TABLE", f"{prefix}jobs"),
        names_table=env("BEATLESS_NAMES_TABLE", f"{prefix}names"),
        runs_table=env("BEATLESS_RUNS_TABLE", f"{prefix}runs"),
        messages_table=env("BEATLESS_MESSAGES_TABLE", f"{prefix}messages"),
        keys_table=env("BEATLESS_KEYS_TABLE", f"{prefix}keys"),
        tenants_table=env("BEATLESS_TENANTS_TABLE", f"{prefix}tenants"),
        idempotency_table=env("BEATLESS_IDEMPOTENCY_TABLE", f"{prefix}idempotency"),
        queue_prefix=env("BEATLESS_QUEUE_PREFIX", "beatless-"),
        failed_queue=env("BEATLESS_FAILED_QUEUE", "beatless-failed"),
        schedule_group=env("BEATLESS_SCHEDULE_GROUP", "beatless"),
        worker_arn=env(
            "BEATLESS_WORKER_ARN", f"arn:aws:lambda:{region}:{account}:function:beatless-worker"
        ),
        scheduler_role_arn=env(
            "BEATLESS_SCHEDULER_ROLE_ARN", f"arn:aws:iam::{account}:role/beatless-scheduler"
        ),
        scheduler_dlq_arn=env(
            "BEATLESS_SCHEDULER_DLQ_ARN", f"arn:aws:sqs:{region}:{account}:beatless-scheduler-dlq"
        ),
        stage=env("BEATLESS_STAGE", "dev"),
        task_modules=tuple(
            name.strip()
            for name in env("BEATLESS_TASK_MODULES", DEFAULT_TASK_MODULE).split(",")
            if name.strip()
        ),
        task_modules_required=env("BEATLESS_TASK_MODULES") is not None,
        dapr_app_endpoints=_json_object(env("BEATLESS_DAPR_APP_ENDPOINTS", "")),
        dapr_allowed_hosts=frozenset(
            host.strip().lower()
            for host in env("BEATLESS_DAPR_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        ),
        dapr_app_api_token=env("BEATLESS_DAPR_APP_API_TOKEN", ""),
        token_secret=env("BEATLESS_TOKEN_SECRET", ""),
        token_secret_arn=env("BEATLESS_TOKEN_SECRET_ARN", ""),
        http_allowed_hosts=_words(env("BEATLESS_HTTP_ALLOWED_HOSTS", "")),
        allow_private_targets=_words(env("BEATLESS_ALLOW_PRIVATE_TARGETS", "")),
        max_jobs_per_tenant=_cap(env(MAX_JOBS_ENV, ""), MAX_JOBS_PER_TENANT),
        max_runs_in_flight_per_tenant=_cap(env(MAX_RUNS_ENV, ""), MAX_RUNS_IN_FLIGHT_PER_TENANT),
        version=env("BEATLESS_VERSION", "0.1.0"),
    )


def _json_object(text: str) -> dict[str, str]:
    """``{"tenant": "http://app:3000"}`` from the environment; anything else means none."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _cap(text: str, default: int) -> int:
    """A per-tenant cap: a whole number, 0 for none; unset or not a number: ``default``
    (a typo in a deploy must not turn a cap off)."""
    try:
        value = int(text) if text.strip() else default
    except ValueError:
        return default
    return value if value >= 0 else default


def _words(text: str) -> frozenset[str]:
    """A comma-separated setting as a set of lower-case words."""
    return frozenset(word.strip().lower() for word in text.split(",") if word.strip())


#: Set by the stack to ``worker`` on every function but the API's (infra/stack.py).
FUNCTION_ENV = "BEATLESS_FUNCTION"


def serves_http() -> bool:
    """Whether this process serves the API's routes: not on a function the stack marked
    ``BEATLESS_FUNCTION=worker`` (the scheduled worker, the queues', reaper, reconciler), whose
    cold start then skips the faces (issue 19); everywhere else (the API, make run, tests,
    ``chalice package``, which must see every route) it does. Read at import, not cached."""
    return os.environ.get(FUNCTION_ENV, "") != "worker"


def reset_settings() -> None:
    """Forget the cached settings (tests and the local runtime change the environment)."""
    get_settings.cache_clear()
