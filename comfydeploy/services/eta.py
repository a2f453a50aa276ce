"""Queue position and estimated start/finish of a run, from recent durations of the same
deployment and the machine's capacity."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import TERMINAL_STATUSES, Machine, Run
from ..models.base import utcnow

HISTORY = 20


def average_duration(run: Run) -> float | None:
    """Mean seconds from start to end of the last successful runs of the same deployment (or version)."""
    key = Run.deployment_id == run.deployment_id if run.deployment_id else \
        Run.workflow_version_id == run.workflow_version_id
    rows = db.session.execute(sa.select(Run.started_at, Run.ended_at).where(
        key, Run.status == "success", Run.started_at.is_not(None), Run.ended_at.is_not(None))
        .order_by(Run.created_at.desc()).limit(HISTORY)).all()
    durations = [(end - start).total_seconds() for start, end in rows]
    return sum(durations) / len(durations) if durations else None


def queue_info(run: Any) -> dict[str, Any]:
    """queue_position (1 = next), estimated_start_at and estimated_finish_at of an unfinished run."""
    info: dict[str, Any] = {"queue_position": None, "estimated_start_at": None, "estimated_finish_at": None,
                            "average_duration": None}
    if run.status in TERMINAL_STATUSES or run.machine_id is None:
        return info
    average = average_duration(run)
    info["average_duration"] = round(average, 3) if average is not None else None
    now = utcnow()
    if run.status in ("running", "uploading"):
        if average is not None:
            info["estimated_finish_at"] = max(now, (run.started_at or now) + timedelta(seconds=average))
        return info
    # Waiting (in our queue or in the machine's): runs ahead of it on the same machine.
    ahead = db.session.scalar(sa.select(sa.func.count()).select_from(Run).where(
        Run.machine_id == run.machine_id, Run.status == "not-started",
        sa.or_(Run.created_at < run.created_at, sa.and_(Run.created_at == run.created_at, Run.id < run.id))))
    executing = db.session.scalar(sa.select(sa.func.count()).select_from(Run).where(
        Run.machine_id == run.machine_id, Run.status.in_(("running", "uploading"))))
    capacity = db.session.scalar(sa.select(Machine.max_concurrency).where(Machine.id == run.machine_id)) or 1
    info["queue_position"] = ahead + 1
    if average is not None:
        # Runs start in waves of `capacity`: this one starts when the runs before it have drained.
        waves = max(0, ahead + executing - capacity + 1) / capacity
        start = now + timedelta(seconds=waves * average)
        info["estimated_start_at"] = start
        info["estimated_finish_at"] = start + timedelta(seconds=average)
    return info
