"""Periodic jobs: machine health polls and run deadlines."""
from __future__ import annotations

import time

from flask import current_app

from ..queue import enqueue


def schedule_periodic_jobs() -> None:
    """Enqueue this period's jobs; job ids carry the period so several schedulers do not double them."""
    period = int(time.time() // max(1, current_app.config["MACHINE_POLL_INTERVAL"]))
    enqueue(expire_runs, queue="default", job_id=f"expire-runs-{int(time.time() // 5)}", timeout=300)
    from ..services.machine_health import machines_to_poll, machines_with_waiting_runs
    for machine_id in machines_to_poll():
        enqueue(poll_machine, machine_id, queue="default", job_id=f"poll-{machine_id}-{period}", timeout=60)
    # Safety net for per-machine queues: a slot freed without a follow-up job still gets used.
    from .runs import enqueue_machine_queue
    for machine_id in machines_with_waiting_runs():
        enqueue_machine_queue(machine_id)


def poll_machine(machine_id: str) -> str:
    """Check one machine's health."""
    from ..services.machine_health import poll_machine as poll
    return poll(machine_id)


def expire_runs() -> int:
    """End runs that passed their deadline."""
    from ..services.machine_health import expire_overdue_runs
    return expire_overdue_runs()
