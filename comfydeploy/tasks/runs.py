"""Dispatching runs to machines, the per-machine queues, and interrupts."""
from __future__ import annotations

import time

from flask import current_app
from rq import Retry
from rq.job import Job

from ..queue import enqueue, redis_connection


def dispatch_backoff(attempts: int) -> list[int]:
    # Bounded exponential backoff between dispatch attempts: 1, 2, 4, 8 ... capped at 30 s.
    return [min(2 ** i, 30) for i in range(max(attempts - 1, 1))]


def enqueue_dispatch(run_id: str) -> None:
    """Queue the dispatch of a committed run (one job per run)."""
    attempts = current_app.config["DISPATCH_MAX_ATTEMPTS"]
    enqueue(dispatch_run, run_id, queue="runs", job_id=f"dispatch-{run_id}",
            retry=Retry(max=max(attempts - 1, 1), interval=dispatch_backoff(attempts)), timeout=600)


def cancel_dispatch_job(run_id: str) -> None:
    """Drop a queued dispatch (the job would skip the cancelled run anyway)."""
    try:
        Job.fetch(f"dispatch-{run_id}", connection=redis_connection()).cancel()
    except Exception:  # noqa: BLE001 - gone or already running: the claim check makes it a no-op
        pass


def enqueue_machine_queue(machine_id: str, delay: float | None = None) -> None:
    enqueue(dispatch_machine_queue, machine_id, queue="runs", job_id=f"machine-queue-{machine_id}-{time.time_ns()}",
            timeout=600, delay=delay)


def enqueue_interrupt(run_id: str) -> None:
    enqueue(interrupt_run, run_id, queue="runs", job_id=f"interrupt-{run_id}", timeout=60)


def dispatch_run(run_id: str) -> str:
    """Send one run to its machine (idempotent; transient failures raise so RQ retries)."""
    from ..services.dispatch import dispatch
    return dispatch(run_id)


def dispatch_machine_queue(machine_id: str) -> str:
    """Send a machine's waiting runs in order while it has free slots."""
    from ..services.dispatch import dispatch_machine_queue as run_queue
    return run_queue(machine_id)


def interrupt_run(run_id: str) -> bool:
    """Stop a cancelled or timed-out run on its machine."""
    from ..services.dispatch import interrupt
    return interrupt(run_id)


