"""The executor's observers (``execution.OBSERVERS``), in a module of their own: ``app.py``
installs them at every function's cold start, which must not import the executor and its
storage models for that (issue 19)."""

from __future__ import annotations

from collections.abc import Callable

#: Called as ``observer(event, run, **details)``: ``"log"`` for each ``ctx.log`` line (level,
#: text, step), ``"end"`` for each attempt's recorded outcome (status, attempt, started_at,
#: ended_at, why, retry_at), ``"dead_letter"`` once an exhausted run's ids went to the
#: failed-runs queue. ``make run`` installs its console (chalicelib/local/console.py);
#: deployed, app.py installs the JSON outcome line and the EMF metrics (chalicelib/logs.py,
#: chalicelib/metrics.py). Observers add no AWS calls here and cannot fail a run.
OBSERVERS: list[Callable[..., None]] = []
