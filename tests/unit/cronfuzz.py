"""Random cron fields for the differential tests."""

from __future__ import annotations

import random

#: (low, high) of minute, hour, day-of-month (to 28: every month has it), month, day-of-week.
FIELDS = ((0, 59), (0, 23), (1, 28), (1, 12), (0, 6))


def random_field(rng: random.Random, low: int, high: int) -> str:
    """``*``, ``*/n``, a value, a range ``a-b`` with a < b (croniter misreads ``a-a``) or a list."""
    kind = rng.randrange(5)
    if kind == 0:
        return "*"
    if kind == 1:
        return f"*/{rng.randint(2, max(2, (high - low) // 2))}"
    a = rng.randint(low, high)
    if kind == 2:
        return str(a)
    if kind == 3:
        b = rng.randint(min(a + 1, high), high)
        return f"{a}-{b}" if b > a else str(a)
    return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), 3)))


def random_fields(rng: random.Random) -> list[str]:
    return [random_field(rng, low, high) for low, high in FIELDS]
