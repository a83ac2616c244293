"""An example task, as a user writes one (docs/tasks.md walks through it)."""

from __future__ import annotations

from typing import Any

from chalicelib.tasks import task

GREETING = "Hello"


@task("reports.daily", queue="high")
def daily_report(ctx: Any, team: str, items: int = 3) -> dict[str, Any]:
    """Build a team's daily report, item by item, stopping early if cancelled."""
    done = []
    for number in range(1, items + 1):
        if ctx.cancelled() or ctx.remaining_seconds() < 1:
            ctx.log(f"stopped after {len(done)} of {items} items", level="WARNING")
            break
        ctx.log(f"item {number} of {items} for {team}")
        done.append(f"{team}-{number}")
    return {"greeting": f"{GREETING}, {team}", "items": done, "attempt": ctx.attempt}
