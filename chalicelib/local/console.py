"""What ``make run`` prints about runs, as Celery's worker does: one line per attempt's outcome
(run id, job, task or target, status, duration, attempt, then the exception line of a failure)
and, at the verbose level, the lines tasks log with ``ctx.log``, the fires and the hand-offs.

``BEATLESS_LOG_LEVEL`` (``make run LOG=...``) picks the level:

- ``quiet``: the startup lines, warnings and failed or timed-out attempts only;
- ``default``: also every outcome and the HTTP request lines;
- ``verbose``: also ``ctx.log`` lines, each schedule fire and each message handed to the worker.

It observes the executor through ``execution.OBSERVERS``, which is empty when deployed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib import execution

LEVELS = ("quiet", "default", "verbose")
runs_log = logging.getLogger("local-runtime.runs")
task_log = logging.getLogger("local-runtime.task")
flow_log = logging.getLogger("local-runtime.flow")
http_log = logging.getLogger("local-runtime.http")
_WARN = {"FAILED", "TIMED_OUT"}


def level_from_env() -> str:
    """The level BEATLESS_LOG_LEVEL names (``default`` when unset or unknown, with a warning)."""
    level = (os.environ.get("BEATLESS_LOG_LEVEL") or "default").strip().lower()
    if level not in LEVELS:
        logging.getLogger("local-runtime").warning(
            "BEATLESS_LOG_LEVEL=%r is not one of %s: default used", level, ", ".join(LEVELS)
        )
        return "default"
    return level


def configure(level: str) -> None:
    """Set the console loggers for ``level`` (the startup lines always show)."""
    quiet, verbose = level == "quiet", level == "verbose"
    http_log.setLevel(logging.WARNING if quiet else logging.INFO)
    runs_log.setLevel(logging.WARNING if quiet else logging.INFO)
    task_log.setLevel(logging.INFO if verbose else logging.CRITICAL + 1)
    flow_log.setLevel(logging.INFO if verbose else logging.CRITICAL + 1)


def install() -> None:
    """Print the executor's outcomes and ctx.log lines from now on."""
    if observe not in execution.OBSERVERS:
        execution.OBSERVERS.append(observe)


def observe(event: str, run: Any, **details: Any) -> None:
    """The executor's observer: an outcome line, or a ctx.log line."""
    if event == "log":
        if task_log.isEnabledFor(logging.INFO):
            task_log.info(
                "run %s step %s %s: %s",
                run.run_id,
                details["step"],
                details["level"],
                details["text"],
            )
    elif event == "end":
        failed = details["status"] in _WARN or details.get("retry_at") is not None
        if runs_log.isEnabledFor(logging.WARNING if failed else logging.INFO):
            runs_log.log(
                logging.WARNING if failed else logging.INFO, "%s", outcome_line(run, **details)
            )


def outcome_line(
    run: Any,
    *,
    status: str,
    attempt: int,
    started_at: datetime | None,
    ended_at: datetime,
    why: str | None = None,
    retry_at: datetime | None = None,
) -> str:
    """``run <id> [job <name>] <task> <STATUS> in <s>s (attempt <n>)``, then the exception line."""
    parts = [f"run {run.run_id}"]
    if run.job_id:
        parts.append(f"job {_job_name(run.tenant, run.job_id)}")
    parts.append(work_name(run.steps))
    took = f"{(ended_at - started_at).total_seconds():.3f}s" if started_at else "?"
    parts.append(f"{status} in {took}")
    tail = f"attempt {attempt}"
    if retry_at is not None:
        tail += f", retry in {max((retry_at - ended_at).total_seconds(), 0):.0f}s"
    line = " ".join(parts) + f" ({tail})"
    return f"{line}\n    {why}" if why else line


def work_name(steps: list[dict[str, Any]] | None) -> str:
    """What the run runs: its steps' tasks or ``target:<type>``, joined by ``+``."""
    names = []
    for step in steps or []:
        target = step.get("target")
        names.append(f"target:{target.get('type', '?')}" if target else str(step.get("task")))
    return "+".join(names) or "?"


def _job_name(tenant: str, job_id: str) -> str:
    from chalicelib.storage import JobModel

    try:
        return f"{JobModel.get(tenant, job_id, attributes_to_get=['name']).name} ({job_id})"
    except Exception:  # deleted meanwhile: its id is enough
        return job_id


def fires(invoke: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """``invoke`` (the worker's fire entry point) with each fire and its run printed at verbose."""

    def fire(event: dict[str, Any]) -> Any:
        flow_log.info("fire of job %s at %s", event.get("job_id"), event.get("scheduled_time"))
        answer = invoke(event)
        if isinstance(answer, dict) and answer.get("run_id"):
            flow_log.info(
                "fire of job %s: run %s %s",
                event.get("job_id"),
                answer["run_id"],
                answer.get("status"),
            )
        return answer

    return fire


def handoffs(queue: str, handle: Callable[..., Any]) -> Callable[..., Any]:
    """``handle`` (the worker's SQS entry point) with each message printed at verbose."""

    def deliver(event: dict[str, Any], context: Any = None) -> Any:
        if flow_log.isEnabledFor(logging.INFO):
            for record in event.get("Records", []):
                try:
                    body = json.loads(record["body"])
                except (KeyError, ValueError):
                    body = {}
                if body.get("kind") == "fire":
                    what = f"fire of job {body.get('job_id')} at {body.get('scheduled_time')}"
                else:
                    what = f"run {body.get('run_id')}"
                flow_log.info("hand-off from queue %s to the worker: %s", queue, what)
        return handle(event, context)

    return deliver
