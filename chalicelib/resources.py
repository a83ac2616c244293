"""Create beatless's AWS resources where nothing else does: ``make run`` and the tests.

The same definitions as the deploy: tables from the PynamoDB models, the schedule group, and
the three work queues, each with a dead-letter queue and a redrive policy, plus the queue for
exhausted runs and the schedules' dead-letter queue. Idempotent.
"""

from __future__ import annotations

import json

from chalicelib import services, storage
from chalicelib.settings import Settings
from chalicelib.tasks import QUEUES

#: A message received this many times without success goes to its dead-letter queue.
MAX_RECEIVES = 5
#: Longer than the queue handlers' 900 s timeout, so a message is not redelivered mid-run.
VISIBILITY_TIMEOUT = 960


def provision(settings: Settings) -> None:
    storage.create_tables(settings)
    services.scheduler().ensure_group()
    sqs = services.queues()
    for name in (settings.failed_queue, settings.scheduler_dlq_name):
        sqs.ensure(name)
    for queue in QUEUES:
        name = settings.queue_name(queue)
        dlq_url = sqs.ensure(f"{name}-dlq")
        dlq_arn = sqs.client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sqs.ensure(
            name,
            {
                "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
                ),
            },
        )
