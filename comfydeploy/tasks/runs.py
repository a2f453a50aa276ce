"""Dispatching runs to machines."""
from __future__ import annotations

from flask import current_app
from rq import Retry
from rq.exceptions import DuplicateJobError

from ..queue import enqueue


def dispatch_backoff(attempts: int) -> list[int]:
    # Bounded exponential backoff between dispatch attempts: 1, 2, 4, 8 ... capped at 30 s.
    return [min(2 ** i, 30) for i in range(max(attempts - 1, 1))]


def enqueue_dispatch(run_id: str) -> None:
    """Queue the dispatch of a committed run (one job per run)."""
    attempts = current_app.config["DISPATCH_MAX_ATTEMPTS"]
    try:
        enqueue(dispatch_run, run_id, queue="runs", job_id=f"dispatch-{run_id}",
                retry=Retry(max=max(attempts - 1, 1), interval=dispatch_backoff(attempts)), timeout=600)
    except DuplicateJobError:
        pass  # already queued: the run is dispatched once either way


def dispatch_run(run_id: str) -> str:
    """Send one run to its machine (idempotent; transient failures raise so RQ retries)."""
    from ..services.runs import dispatch
    return dispatch(run_id)
