"""The EventBridge Scheduler gateway: keeps a job's schedules equal to its plan.

Schedule names are derived from the job id (``job-<id>``, ``job-<id>-dow`` for the second half
of a split, ``job-<id>-due`` for a first fire), in one group per deployment. A schedule's Input
holds ids, the ``<aws.scheduler.scheduled-time>`` placeholder and, for a schedule that runs the
job, the job's schedule spec (so a fire need not read the job); the payload stays in DynamoDB.
UpdateSchedule replaces every field, so each call sends the full set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.schedules import PlannedSchedule
from chalicelib.settings import Settings

#: How long and how often Scheduler retries a failed invoke before the dead-letter queue.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
#: EventBridge Scheduler's limit on a target's Input, in characters.
MAX_INPUT = 8192


def schedule_name(job_id: str, suffix: str = "") -> str:
    return f"job-{job_id}" + (f"-{suffix}" if suffix else "")


def schedule_input(target: ScheduleTarget, name: str, planned: PlannedSchedule) -> str:
    """The target Input: ids, the scheduled-time placeholder and, for a schedule that runs the
    job, its spec (what its fires are decided on, checked against the job: firing.py), unless
    that would pass EventBridge's limit (the fire then reads the job)."""
    event: dict[str, Any] = {
        "job_id": target.job_id,
        "tenant": target.tenant,
        "schedule": name,
        "scheduled_time": SCHEDULED_TIME,
    }
    plain = json.dumps(event, separators=(",", ":"))
    if planned.spec is None:
        return plain
    carried = json.dumps(event | {"spec": planned.spec}, separators=(",", ":"))
    return carried if len(carried) <= MAX_INPUT else plain


@dataclass(frozen=True)
class ScheduleTarget:
    """Who a job's schedules belong to and whether they fire."""

    job_id: str
    tenant: str
    enabled: bool


class SchedulerGateway:
    """Create, update and delete a job's schedules. ``client_factory`` builds the boto3
    ``scheduler`` client on first use (never at import), and tests can inject their own."""

    def __init__(self, settings: Settings, client_factory: Callable[[], Any]) -> None:
        self._settings = settings
        self._client_factory = client_factory
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def params(self, target: ScheduleTarget, planned: PlannedSchedule) -> dict[str, Any]:
        """The full CreateSchedule/UpdateSchedule request for one planned schedule."""
        name = schedule_name(target.job_id, planned.suffix)
        params: dict[str, Any] = {
            "Name": name,
            "GroupName": self._settings.schedule_group,
            "ScheduleExpression": planned.expression,
            "ScheduleExpressionTimezone": planned.timezone,
            "State": "ENABLED" if target.enabled else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE" if planned.one_time else "NONE",
            "Description": f"beatless job {target.job_id} (tenant {target.tenant})",
            "Target": {
                "Arn": self._settings.worker_arn,
                "RoleArn": self._settings.scheduler_role_arn,
                "Input": schedule_input(target, name, planned),
                "RetryPolicy": dict(RETRY_POLICY),
                "DeadLetterConfig": {"Arn": self._settings.scheduler_dlq_arn},
            },
        }
        if planned.start_date is not None:
            params["StartDate"] = planned.start_date
        if planned.end_date is not None:
            params["EndDate"] = planned.end_date
        return params

    def apply(
        self,
        target: ScheduleTarget,
        planned: Sequence[PlannedSchedule],
        existing: Sequence[str],
    ) -> list[str]:
        """Make the job's schedules exactly ``planned``: create or update each, delete the
        ``existing`` names no longer planned. Returns the names that now exist."""
        names = []
        for item in planned:
            params = self.params(target, item)
            if params["Name"] in existing:
                self._update(params)
            else:
                self._create(params)
            names.append(params["Name"])
        for name in existing:
            if name not in names:
                self.delete(name)
        return names

    def _create(self, params: dict[str, Any]) -> None:
        try:
            self.client.create_schedule(**params)
        except ClientError as error:
            if _code(error) != "ConflictException":
                raise
            self.client.update_schedule(**params)  # left over from an earlier attempt

    def _update(self, params: dict[str, Any]) -> None:
        try:
            self.client.update_schedule(**params)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            self.client.create_schedule(**params)  # a one-time schedule deleted itself

    def delete(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=name, GroupName=self._settings.schedule_group)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get_schedule(Name=name, GroupName=self._settings.schedule_group)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise

    def ensure_group(self) -> None:
        """Create the schedule group if missing (moto replaces an existing group, dropping its
        schedules, so look before creating)."""
        try:
            self.client.get_schedule_group(Name=self._settings.schedule_group)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            self.client.create_schedule_group(Name=self._settings.schedule_group)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
