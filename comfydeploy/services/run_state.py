"""The run state machine: statuses only move forward, terminal ones never change.

Every transition is one conditional UPDATE, so concurrent callbacks (the node fires them in
parallel) and jobs can race without a lock and without ever moving a run backwards. A transition
that happened is recorded as a run event in the same transaction; webhooks and the machine queue
react after the commit."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import STATUS_RANK, TERMINAL_STATUSES, Run
from ..models.base import utcnow
from . import run_hooks


def update_run(run_id: str, *conditions: Any, **values: Any) -> int:
    """UPDATE one run (with extra conditions) on the session's connection, in the caller's transaction;
    Core rather than an ORM bulk update, which cost more than the statement on these hot paths."""
    return db.session.connection().execute(
        sa.update(Run.__table__).where(Run.id == run_id, *conditions).values(**values)).rowcount


def allowed_from(new_status: str) -> list[str]:
    """Statuses a run may be in for `new_status` to apply."""
    rank = STATUS_RANK[new_status]
    return [s for s, r in STATUS_RANK.items() if r < rank and s not in TERMINAL_STATUSES]


def _apply(run_id: str, new_status: str, conditions: list, values: dict, commit: bool) -> bool:
    if new_status in TERMINAL_STATUSES:
        values = {**values, "started_at": sa.func.coalesce(Run.started_at, Run.dispatched_at)}
    runs = Run.__table__.c
    row = db.session.connection().execute(
        sa.update(Run.__table__).where(runs.id == run_id, runs.status.in_(allowed_from(new_status)), *conditions)
        .values(**values).returning(runs.error)
    ).first()
    changed = row is not None
    if changed:
        run_hooks.record(run_id, "status", {"status": new_status, "error": row.error})
        run_hooks.after_commit(run_hooks.status_changed, run_id, new_status)
    if commit:
        db.session.commit()
        run_hooks.run_after_commit()
    return changed


def transition(run_id: str, new_status: str, error: str | None = None, commit: bool = True) -> bool:
    """Move a run forward to `new_status`; False when that would be a step back or a terminal change.

    With commit=False the change joins the caller's transaction; its webhooks and machine-queue step
    wait for the caller's commit and run_hooks.run_after_commit()."""
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
    return _apply(run_id, new_status, [], values, commit)


def finish_if_done(run_id: str, commit: bool = True) -> bool:
    """Mark success when ComfyUI finished and no media upload is awaited (the HEAD node never
    sends success for runs without uploaded media, reference §6.5)."""
    now = utcnow()
    return _apply(run_id, "success", [Run.execution_done.is_(True), Run.expects_media.is_(False)],
                  {"status": "success", "ended_at": now, "updated_at": now, "progress": 1.0}, commit)
