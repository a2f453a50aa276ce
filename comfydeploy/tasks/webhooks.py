"""Webhook deliveries, on their own queue so a slow receiver never delays run dispatch."""
from __future__ import annotations

import time

from ..queue import enqueue


def enqueue_delivery(delivery_id: str, delay: float | None = None, manual: bool = False) -> None:
    # A distinct job id per attempt: RQ keeps finished jobs for a while under their id.
    suffix = "manual-" + str(time.time_ns()) if manual else str(time.time_ns())
    enqueue(deliver_webhook, delivery_id, queue="webhooks", job_id=f"webhook-{delivery_id}-{suffix}", timeout=120,
            delay=delay)


def deliver_webhook(delivery_id: str) -> str:
    """One attempt of one webhook delivery."""
    from ..services.webhooks import deliver
    return deliver(delivery_id)
