"""Synchronous runs: submit a run, then wait for its outcome up to a bound.

For faces whose clients expect the answer in the response (Vitam's worker answers
``POST /worker/v1/tasks`` when the step is done). The run itself is an ordinary queued run, so it
goes on after the bound; the caller is told it is still going and can read or cancel it.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib import services
from chalicelib.records import Run
from chalicelib.vocabulary import FINAL_STATUSES

#: How often the run is read while waiting: one DynamoDB read each time.
POLL_SECONDS = 0.1


def submit_and_wait(
    tenant: str, steps: list[dict[str, Any]], *, wait_seconds: float, **submit: Any
) -> Run:
    """The run, read when it ended or when ``wait_seconds`` passed (then still QUEUED or
    RUNNING); ``submit`` takes ``RunService.submit``'s keyword arguments."""
    runs = services.run_service()
    run = runs.submit(tenant, steps, **submit)
    deadline = time.monotonic() + wait_seconds
    while run.status not in FINAL_STATUSES and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
        run = runs.get(tenant, run.run_id)
    return run
