"""Cost at scale: what one list page reads with 100, 10,000 and 100,000 runs in the table.

Counts the items DynamoDB examined (ScannedCount) and the capacity moto reports, per page of 50,
for a tenant's runs and for one job's runs. Flat is the goal: a line that grows is a bug.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.update(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
)
os.environ.pop("BEATLESS_AWS_ENDPOINT_URL", None)

import botocore.client
from moto import mock_aws

READ: Counter[str] = Counter()
_original = botocore.client.BaseClient._make_api_call


def _counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
    if operation == "Query":
        params = {**params, "ReturnConsumedCapacity": "TOTAL"}
    answer = _original(self, operation, params)
    if operation == "Query":
        READ["queries"] += 1
        READ["scanned"] += int(answer.get("ScannedCount", 0))
        READ["capacity"] += float((answer.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))
    return answer


def run(sizes: list[int]) -> list[str]:
    botocore.client.BaseClient._make_api_call = _counting  # type: ignore[method-assign]
    rows = [
        "| runs in the table | page (tenant) | items read | capacity "
        "| page (one job) | items read | capacity |",
        "|---|---|---|---|---|---|---|",
    ]
    try:
        for size in sizes:
            with mock_aws():
                from chalicelib import resources, services
                from chalicelib.ids import new_id
                from chalicelib.settings import get_settings
                from chalicelib.storage import RunModel

                services.reset()
                resources.provision(get_settings())
                with RunModel.batch_write() as batch:
                    for i in range(size):
                        job = (
                            "01m00000000000000000000000"
                            if i % 10 == 0
                            else "01m00000000000000000000001"
                        )
                        batch.save(
                            RunModel(
                                "default",
                                new_id(),
                                job_id=job,
                                job_key=f"default#{job}",
                                status="SUCCEEDED",
                                task="echo",
                            )
                        )
                service = services.run_service()
                figures = []
                for job_id in (None, "01m00000000000000000000000"):
                    READ.clear()
                    page = service.list("default", limit=50, job_id=job_id)
                    figures += [len(page.items), READ["scanned"], f"{READ['capacity']:.1f}"]
                rows.append(f"| {size:,} | " + " | ".join(str(f) for f in figures) + " |")
    finally:
        botocore.client.BaseClient._make_api_call = _original  # type: ignore[method-assign]
    return rows


if __name__ == "__main__":
    print("\n".join(run([int(a) for a in sys.argv[1:]] or [100, 10_000, 100_000])))
