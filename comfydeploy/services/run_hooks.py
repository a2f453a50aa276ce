"""What follows a change to a run: its event log (for server-sent events), webhooks, and the
machine's queue moving on when a run ends."""
from __future__ import annotations

import logging
from typing import Any, Callable

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from ..models import TERMINAL_STATUSES, Machine, Run, RunEvent
from .run_view_cache import mark_changed

log = logging.getLogger(__name__)
STATUS_WEBHOOKS = {"running": "run.started", "success": "run.succeeded", "failed": "run.failed",
                   "cancelled": "run.cancelled", "timeout": "run.timeout"}


INSERT_EVENT = sa.insert(RunEvent.__table__)


def record(run_id: str, event_type: str, data: Any) -> None:
    """Add an event to the run's log, in the caller's transaction (which changes the run's view).

    A Core insert on the session's connection, in order with the caller's other statements: every
    state-changing callback records one, and the ORM unit of work cost more than the insert."""
    db.session.connection().execute(INSERT_EVENT, {"run_id": run_id, "type": event_type, "data": data})
    mark_changed(run_id)


AFTER_COMMIT = "cd_after_commit"


def after_commit(hook: Callable[..., Any], *args: Any) -> None:
    """Run `hook(*args)` once the caller's transaction commits (run_after_commit); hooks read the
    committed rows and start work (webhooks, the machine queue) that must never see a rolled-back change."""
    db.session.info.setdefault(AFTER_COMMIT, []).append((hook, args))


def run_after_commit(keep_going: bool = False) -> None:
    """The hooks of the transaction just committed, in the order they were added. With keep_going, a
    failing hook is logged and the others still run (a batch of many runs' callbacks must not lose
    the webhooks of the rest); otherwise the error propagates to the request that caused it."""
    hooks = db.session.info.pop(AFTER_COMMIT, [])
    for hook, args in hooks:
        if not keep_going:
            hook(*args)
            continue
        try:
            hook(*args)
        except Exception:  # noqa: BLE001 - logged; the other hooks of the batch still run
            db.session.rollback()
            log.exception("after-commit step %s%r failed", hook.__name__, args)


@sa.event.listens_for(so.Session, "after_rollback")
def _discard_after_rollback(session: so.Session) -> None:
    session.info.pop(AFTER_COMMIT, None)  # the change they follow never happened


def status_changed(run_id: str, status: str) -> None:
    """After a committed status change: notify webhooks, and free the machine's slot."""
    event_type = STATUS_WEBHOOKS.get(status)
    if event_type:
        from .webhooks import trigger
        trigger(run_id, event_type)
    if status in TERMINAL_STATUSES:
        machine_id, max_concurrency = db.session.connection().execute(
            sa.select(Run.machine_id, Machine.max_concurrency).outerjoin(Machine, Machine.id == Run.machine_id)
            .where(Run.id == run_id)).first() or (None, None)
        if machine_id and max_concurrency:
            from ..tasks.runs import enqueue_machine_queue
            enqueue_machine_queue(machine_id)


def output_added(run_id: str, output_id: str) -> None:
    """After a committed output: notify webhooks that asked for run.output."""
    from .webhooks import trigger
    trigger(run_id, "run.output", {"output_id": output_id})


def events_after(run_id: str, after_id: int, limit: int = 500) -> list[RunEvent]:
    return list(db.session.scalars(sa.select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.id > after_id)
                                   .order_by(RunEvent.id).limit(limit)))
