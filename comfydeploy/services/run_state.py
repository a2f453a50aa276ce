"""The run state machine: statuses only move forward, terminal ones never change.

Every transition is one conditional UPDATE, so concurrent callbacks (the node fires them in
parallel) and jobs can race without a lock and without ever moving a run backwards."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import STATUS_RANK, TERMINAL_STATUSES, Run
from ..models.base import utcnow


def allowed_from(new_status: str) -> list[str]:
    """Statuses a run may be in for `new_status` to apply."""
    rank = STATUS_RANK[new_status]
    return [s for s, r in STATUS_RANK.items() if r < rank and s not in TERMINAL_STATUSES]


def transition(run_id: str, new_status: str, error: str | None = None, commit: bool = True) -> bool:
    """Move a run forward to `new_status`; False when that would be a step back or a terminal change."""
    if new_status not in STATUS_RANK or new_status == "not-started":
        return False
    now = utcnow()
    values: dict = {"status": new_status, "updated_at": now}
    if new_status in TERMINAL_STATUSES:
        values["ended_at"] = now
        if new_status == "success":
            values["progress"] = 1.0
    if new_status == "running":
        values["started_at"] = sa.func.coalesce(Run.started_at, now)
    if error is not None:
        values["error"] = sa.func.coalesce(Run.error, error)
    changed = db.session.execute(
        sa.update(Run).where(Run.id == run_id, Run.status.in_(allowed_from(new_status))).values(**values)
    ).rowcount == 1
    if new_status in TERMINAL_STATUSES and changed:
        values_started = {"started_at": sa.func.coalesce(Run.started_at, Run.dispatched_at)}
        db.session.execute(sa.update(Run).where(Run.id == run_id).values(**values_started))
    if commit:
        db.session.commit()
    return changed


def finish_if_done(run_id: str, commit: bool = True) -> bool:
    """Mark success when ComfyUI finished and no media upload is awaited (the HEAD node never
    sends success for runs without uploaded media, reference §6.5)."""
    now = utcnow()
    changed = db.session.execute(
        sa.update(Run).where(Run.id == run_id, Run.execution_done.is_(True), Run.expects_media.is_(False),
                             Run.status.in_(allowed_from("success")))
        .values(status="success", ended_at=now, updated_at=now, progress=1.0,
                started_at=sa.func.coalesce(Run.started_at, Run.dispatched_at))
    ).rowcount == 1
    if commit:
        db.session.commit()
    return changed
