"""A job that does nothing but note when it started, for RQ's own enqueue-to-start latency."""
import time

from rq import get_current_job


def record_start() -> float:
    """Return the seconds between enqueue and start of this job."""
    job = get_current_job()
    return time.time() - job.meta["enqueued_at"]
