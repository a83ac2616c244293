"""Metrics as CloudWatch embedded metric format (EMF): one JSON document per line on stdout,
which CloudWatch Logs turns into metrics. No client, no API call, nothing to flush.

Namespace ``Beatless``; dimensions ``Service`` (``beatless-<stage>``) and ``Queue`` only, never
a job or tenant id: each value of a dimension is a metric of its own (cardinality, cost). The
ids go along as plain properties, which Logs Insights can search and CloudWatch does not count.

| metric | unit | emitted when |
|---|---|---|
| ``Fires`` | Count | a schedule fire's run ends its first attempt (dated at its start) |
| ``FireLag`` | Milliseconds | the same: the run's ``started_at`` minus its ``scheduled_time`` |
| ``Runs`` | Count | a run ends, whatever its outcome |
| ``RunsSucceeded``, ``RunsFailed``, ``RunsTimedOut``, ``RunsCancelled`` | Count | by outcome |
| ``RunDuration`` | Milliseconds | an attempt ends (retried or not): its start to its end |
| ``Retries`` | Count | an attempt failed or timed out and another one is scheduled |
| ``DeadLettered`` | Count | an exhausted run's ids are sent to the failed-runs queue |

Emitted by an observer of the executor (``execution.OBSERVERS``), installed only where logs are
JSON (deployed): ``make run``'s console never shows these documents. A fire is counted with the
outcome of its first attempt, whose ``started_at`` the observer is given, and its document is
dated at that start, so the lag lands in the minute the run started.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

NAMESPACE = "Beatless"
DIMENSIONS = ("Service", "Queue")
COUNT, MILLISECONDS = "Count", "Milliseconds"
#: The metric counting each final outcome (SKIPPED runs never reach the executor).
OUTCOMES = {
    "SUCCEEDED": "RunsSucceeded",
    "FAILED": "RunsFailed",
    "TIMED_OUT": "RunsTimedOut",
    "CANCELLED": "RunsCancelled",
}
#: Every metric name and its unit (the dashboard and the alarms in infra/stack.py use these).
METRICS = {
    "Fires": COUNT,
    "FireLag": MILLISECONDS,
    "Runs": COUNT,
    **dict.fromkeys(OUTCOMES.values(), COUNT),
    "RunDuration": MILLISECONDS,
    "Retries": COUNT,
    "DeadLettered": COUNT,
}


def service() -> str:
    """The ``Service`` dimension's value: ``beatless-<stage>`` (BEATLESS_STAGE)."""
    from chalicelib.settings import get_settings

    return f"beatless-{get_settings().stage}"


def document(
    values: dict[str, float],
    queue: str,
    properties: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The EMF document recording ``values`` (metric name -> value) for ``queue``, dated
    ``at`` (default now)."""
    unknown = set(values) - set(METRICS)
    assert not unknown, f"not beatless metrics: {unknown}"
    return {
        "_aws": {
            "Timestamp": int((at.timestamp() if at else time.time()) * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(DIMENSIONS)],
                    "Metrics": [{"Name": name, "Unit": METRICS[name]} for name in values],
                }
            ],
        },
        **(properties or {}),
        "Service": service(),
        "Queue": queue,
        **values,
    }


def emit(
    values: dict[str, float], queue: str | None, at: datetime | None = None, **properties: Any
) -> None:
    """Print one EMF document (one line) to stdout."""
    line = json.dumps(
        document(values, queue or "default", properties, at), default=str, separators=(",", ":")
    )
    sys.stdout.write(line + "\n")


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 1)


def observe(event: str, run: Any, **details: Any) -> None:
    """The executor's observer: the metrics of each attempt's end (and of a fire, with its
    first attempt's) and of a run's dead-lettering (see the table above)."""
    ids = {"tenant": run.tenant, "job_id": run.job_id, "run_id": run.run_id}
    if event == "end":
        started = details.get("started_at")
        lag = _ms(run.scheduled_time, started)
        if str(run.trigger) == "schedule" and details["attempt"] == 1 and lag is not None:
            emit({"Fires": 1, "FireLag": max(lag, 0.0)}, run.queue, at=started, **ids)
        values: dict[str, float] = {}
        if details.get("retry_at") is not None:
            values["Retries"] = 1
        elif details["status"] in OUTCOMES:
            values.update({"Runs": 1, OUTCOMES[details["status"]]: 1})
        took = _ms(details.get("started_at"), details.get("ended_at"))
        if took is not None:
            values["RunDuration"] = took
        if values:
            emit(values, run.queue, status=details["status"], attempt=details["attempt"], **ids)
    elif event == "dead_letter":
        emit({"DeadLettered": 1}, run.queue, **ids)
