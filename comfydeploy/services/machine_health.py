"""Machine health polls and the rule that no run stays running forever."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..machines import client as machine_client
from ..models import Machine, Run, TERMINAL_STATUSES
from ..models.base import utcnow
from .run_state import transition


def poll_machine(machine_id: str) -> str:
    """Check one machine; record status, last seen and queue size; fail its runs when it is gone."""
    machine = db.session.get(Machine, machine_id)
    if machine is None or machine.disabled:
        return "skipped"
    target = machine_client.MachineTarget(machine.type, machine.endpoint, machine.auth_token)
    db.session.commit()
    health = machine_client.poll(target)
    now = utcnow()
    values: dict = {"last_polled_at": now}
    if health.online:
        values.update(last_seen_at=now, queue_size=health.queue_size, health_error=None)
        if machine.status == "offline":
            values["status"] = "ready"
    else:
        values["health_error"] = health.error
        offline_after = timedelta(seconds=current_app.config["MACHINE_OFFLINE_AFTER"])
        last_seen = machine.last_seen_at or machine.created_at
        if now - last_seen > offline_after and machine.status in ("ready", "offline"):
            values["status"] = "offline"
    db.session.execute(sa.update(Machine).where(Machine.id == machine_id).values(**values))
    db.session.commit()
    if values.get("status") == "offline":
        fail_runs_of_offline_machine(machine_id, machine.name, machine.last_seen_at)
        return "offline"
    return "online" if health.online else "unreachable"


def fail_runs_of_offline_machine(machine_id: str, name: str, last_seen) -> int:
    """Runs already sent to a machine that stopped answering end failed with the reason."""
    run_ids = db.session.scalars(sa.select(Run.id).where(
        Run.machine_id == machine_id, Run.dispatched_at.is_not(None),
        Run.status.not_in(TERMINAL_STATUSES))).all()
    seen = last_seen.isoformat(timespec="seconds") if last_seen else "never"
    for run_id in run_ids:
        transition(run_id, "failed", error=f"Machine {name} stopped answering (last seen {seen})")
    return len(run_ids)


def machines_to_poll() -> list[str]:
    interval = timedelta(seconds=current_app.config["MACHINE_POLL_INTERVAL"])
    cutoff = utcnow() - interval
    return list(db.session.scalars(sa.select(Machine.id).where(
        Machine.disabled.is_(False), Machine.status != "building",
        sa.or_(Machine.last_polled_at.is_(None), Machine.last_polled_at < cutoff))))


def machines_with_waiting_runs() -> list[str]:
    """Machines with a concurrency limit that have runs waiting for dispatch."""
    return list(db.session.scalars(sa.select(Machine.id).where(
        Machine.max_concurrency.is_not(None), Machine.disabled.is_(False),
        sa.exists().where(Run.machine_id == Machine.id, Run.status == "not-started", Run.dispatched_at.is_(None)))))


def expire_overdue_runs() -> int:
    """Runs past their deadline, or waiting longer than the queue TTL, end as timeout; the
    machine is told to stop the ones it already has."""
    now = utcnow()
    overdue = db.session.execute(sa.select(Run.id, Run.dispatched_at, Run.created_at).where(
        Run.status.not_in(TERMINAL_STATUSES),
        sa.or_(Run.deadline_at < now, sa.and_(Run.dispatched_at.is_(None), Run.queue_deadline_at < now))
    ).order_by(Run.created_at)).all()
    count = 0
    for row in overdue:
        if row.dispatched_at is None:
            reason = (f"Run timed out after waiting {(now - row.created_at).total_seconds():.0f} s for a machine "
                      f"(queue time-to-live)")
        else:
            reason = f"Run timed out after {(now - row.dispatched_at).total_seconds():.0f} s on the machine"
        if transition(row.id, "timeout", error=reason):
            count += 1
            if row.dispatched_at is not None:
                from ..tasks.runs import enqueue_interrupt
                enqueue_interrupt(row.id)
    return count
