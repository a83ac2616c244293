"""Tasks the console's browser tests run under ``make run`` (BEATLESS_TASK_MODULES)."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.tasks.registry import task


@task("console.tick")
def tick(ctx: Any, lines: int = 5, every: float = 0.4) -> int:
    """Log ``lines`` lines, ``every`` seconds apart, stopping early on a cancel."""
    for number in range(1, int(lines) + 1):
        if ctx.cancelled():
            break
        ctx.log(f"tick {number} of {lines}")
        time.sleep(float(every))
    return int(lines)
