"""Next fire time: one ``cron_fires`` call (the first fire), timed from start times across a day,
for the slowest specs found, in a zone with DST. It runs on every create, update and fire.

Start times: every 10 minutes of three local days in Europe/Paris (an ordinary one, the
spring-forward one and the 25-hour fall-back one), plus the last seconds before each midnight.
Each start time is timed as the best of a few calls (scheduler noise), then the worst and the
median over the start times are reported. Figures, not pass/fail thresholds.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.schedules.cron import CronSpec, parse_aws, parse_crontab, parse_unix
from chalicelib.schedules.nextfire import cron_fires

TZ = ZoneInfo("Europe/Paris")
DAYS = (date(2030, 1, 15), date(2030, 3, 31), date(2030, 10, 27))

#: The slowest specs found (over 20 tried): dense times, the DST gap, rare and impossible days.
SPECS: list[tuple[str, CronSpec]] = [
    ("`* * * * * *` (every second)", parse_unix("* * * * * *")),
    ("`59 59 23 * * *` (last second of the day)", parse_unix("59 59 23 * * *")),
    ("`* * 2 * * *` (every second of the hour DST skips)", parse_unix("* * 2 * * *")),
    ("`cron(0 0 ? * 6L *)` (last Friday)", parse_aws("0 0 ? * 6L *")),
    (
        "Celery 31st and Monday",
        parse_crontab({"minute": 0, "hour": 0, "day_of_month": 31, "day_of_week": 1}),
    ),
    ("`cron(0 0 ? 2 2#5 *)` (5th Monday of Feb: 2044)", parse_aws("0 0 ? 2 2#5 *")),
    (
        "Celery Feb 29 and Monday (2044)",
        parse_crontab(
            {"minute": 0, "hour": 0, "day_of_month": 29, "month_of_year": 2, "day_of_week": 1}
        ),
    ),
    ("`0 0 0 30 2 *` (never: Feb 30)", parse_unix("0 0 0 30 2 *")),
    ("`0 0 0 31 2,4,6,9,11 *` (never)", parse_unix("0 0 0 31 2,4,6,9,11 *")),
    ("`cron(0 0 1 1 ? 2199)` (past the 30-year horizon)", parse_aws("0 0 1 1 ? 2199")),
]


def start_times(step: timedelta) -> list[datetime]:
    """Every ``step`` of each local day in DAYS, and the last seconds before its midnight."""
    out = []
    for day in DAYS:
        begin = datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)
        following = day + timedelta(days=1)
        midnight = datetime(following.year, following.month, following.day, tzinfo=TZ)
        end = midnight.astimezone(UTC)
        moment = begin
        while moment < end:
            out.append(moment)
            moment += step
        out += [end - timedelta(seconds=s) for s in (2, 1)] + [end - timedelta(microseconds=1)]
    return out


def one_call(spec: CronSpec, after: datetime, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        next(cron_fires(spec, TZ, after), None)
        best = min(best, time.perf_counter() - started)
    return best


def run(quick: bool = False) -> list[str]:
    starts = start_times(timedelta(hours=3) if quick else timedelta(minutes=10))
    reps = 1 if quick else 5
    rows = [
        f"| spec (Europe/Paris, {len(starts)} start times) | median | worst | worst from "
        "(local) | worst / median |",
        "|---|---|---|---|---|",
    ]
    for label, spec in SPECS:
        times = [(one_call(spec, after, reps), after) for after in starts]
        worst, worst_at = max(times)
        median = statistics.median(t for t, _ in times)
        local = worst_at.astimezone(TZ)
        rows.append(
            f"| {label} | {median * 1e3:.3f} ms | {worst * 1e3:.3f} ms | "
            f"{local:%Y-%m-%d %H:%M:%S} {local:%Z} | {worst / median:.1f} |"
        )
    return rows


if __name__ == "__main__":
    print("\n".join(run("--quick" in sys.argv)))
