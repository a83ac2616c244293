"""Every closed vocabulary of beatless, defined once (in the manner of APScheduler 4's
``_enums.py``). Each is a ``StrEnum``: its members are the strings stored in DynamoDB and shown
by the faces, so an item written before a member existed still reads, and a face compares or
serialises a member as the plain string it is."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """QUEUED → RUNNING → one final status; SKIPPED for a fire that was refused (recorded with
    the reason). A retry starts a new attempt from QUEUED."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    SKIPPED = "SKIPPED"

    @property
    def final(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


FINAL_STATUSES = frozenset(s for s in RunStatus if s.final)


class Overlap(StrEnum):
    """What a fire does while an earlier run of the same job is still RUNNING."""

    ALLOW = "allow"
    SKIP = "skip"


class Queue(StrEnum):
    """The three work queues (SQS queues ``beatless-<name>``), by priority."""

    HIGH = "high"
    DEFAULT = "default"
    LOW = "low"


class Trigger(StrEnum):
    """What started a run."""

    API = "api"  # an ad-hoc task
    SCHEDULE = "schedule"  # a fire of the job's schedule
    MANUAL = "manual"  # "run this job now"
    RETRY = "retry"  # a retry asked through the API


class Delivery(StrEnum):
    """What a fire of one of a job's EventBridge schedules does."""

    RUN = "run"  # run the job at the scheduled time
    PLAN = "plan"  # hand the coming fires to SQS delayed messages (second precision)
