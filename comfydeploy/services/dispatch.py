"""Sending runs to machines: once per run, with bounded retries, and at most max_concurrency at a time."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..machines import client as machine_client
from ..models import TERMINAL_STATUSES, Deployment, Machine, Run, RunOutput, WorkflowVersion
from ..models.base import new_id, utcnow
from . import run_hooks
from .run_state import transition, update_run
from .run_view_cache import mark_changed
from .runs import cd_token, run_timeout_for

# A dispatch claim older than this is considered abandoned (the worker died mid-request).
DISPATCH_LEASE = timedelta(minutes=5)


class RetryDispatch(Exception):
    """Raised by the dispatch job so RQ retries it with backoff."""


def build_payload(run: Any, version: Any) -> dict[str, Any]:
    """The body of POST /comfyui-deploy/run, as the HEAD node reads it (reference §6.2, §15)."""
    base = run.callback_base_url
    return {
        # Unsubstituted: the node applies `inputs` itself, class by class (reference §7.2).
        "workflow_api_raw": version.workflow_api,
        "inputs": run.workflow_inputs or {},
        # Without the UI graph the HEAD node crashes on any literal seed (reference §13 item 9).
        "workflow": version.workflow if isinstance(version.workflow, dict) and isinstance(
            version.workflow.get("nodes"), list) else {"nodes": []},
        "prompt_id": run.id,
        "status_endpoint": f"{base}/api/update-run",
        "file_upload_endpoint": f"{base}/api/file-upload",
        "cd_token": cd_token(run.id),
        "gpu_event_id": run.id,
    }


def _claimable(lease_start: Any) -> sa.ColumnElement[bool]:
    """Not started, not sent, and not claimed by an attempt begun after `lease_start` (a time, or a bind
    parameter in the prebuilt CLAIM)."""
    return sa.and_(Run.status == "not-started", Run.dispatched_at.is_(None),
                   sa.or_(Run.dispatch_claimed_at.is_(None), Run.dispatch_claimed_at < lease_start))


def _claim_statement() -> sa.Update:
    # Prebuilt (bind parameters for the run and the times): the claim runs once per dispatched run.
    return (sa.update(Run.__table__).where(Run.id == sa.bindparam("run_id"), _claimable(sa.bindparam("lease_start")))
            .values(dispatch_claimed_at=sa.bindparam("now"), dispatch_attempts=Run.dispatch_attempts + 1))


CLAIM = _claim_statement()


def _try_claim(run_id: str, now) -> bool:
    """Claim the run for one send attempt, in the caller's transaction."""
    return db.session.connection().execute(
        CLAIM, {"run_id": run_id, "now": now, "lease_start": now - DISPATCH_LEASE}).rowcount == 1


def _claim(run_id: str) -> bool:
    claimed = _try_claim(run_id, utcnow())
    db.session.commit()
    return claimed


def _release_claim(run_id: str) -> None:
    update_run(run_id, Run.dispatched_at.is_(None), dispatch_claimed_at=None)
    db.session.commit()


def _mark_dispatched(run_id: str, run_timeout: int) -> None:
    now = utcnow()
    update_run(run_id, Run.dispatched_at.is_(None),
               dispatched_at=now, deadline_at=now + timedelta(seconds=run_timeout))
    mark_changed(run_id)
    db.session.commit()


def fail_run(run_id: str, reason: str, output: Any = None) -> bool:
    """End a run as failed with a readable reason (and the machine's error as an output)."""
    if output is not None:
        output_id = new_id()
        db.session.add(RunOutput(id=output_id, run_id=run_id, kind="error", data=output))
        run_hooks.record(run_id, "output", {"output_id": output_id, "kind": "error", "data": output})
    return transition(run_id, "failed", error=reason)


def _dispatch_query() -> sa.Select:
    # Everything sending a run needs, in one prebuilt Core statement (no ORM objects on this hot path).
    r, v, m, d = (t.__table__.c for t in (Run, WorkflowVersion, Machine, Deployment))
    return (sa.select(r.id, r.callback_base_url, r.workflow_inputs, r.dispatch_attempts, r.machine_id,
                      v.id.label("version_id"), v.workflow_api, v.workflow,
                      m.id.label("machine_found"), m.type.label("machine_type"), m.endpoint, m.auth_token,
                      m.disabled, m.name.label("machine_name"), m.max_concurrency, d.run_timeout)
            .select_from(Run.__table__.outerjoin(WorkflowVersion.__table__, v.id == r.workflow_version_id)
                         .outerjoin(Machine.__table__, m.id == r.machine_id)
                         .outerjoin(Deployment.__table__, d.id == r.deployment_id))
            .where(r.id == sa.bindparam("run_id")))


DISPATCH_QUERY = _dispatch_query()


def _read_for_dispatch(run_id: str) -> Any:
    return db.session.connection().execute(DISPATCH_QUERY, {"run_id": run_id}).first()


def dispatch(run_id: str) -> str:
    """Send a run to its machine once. Idempotent: a duplicated or retried job never sends it twice."""
    row = _read_for_dispatch(run_id)
    if row is None:
        db.session.commit()
        return "skipped"
    if row.max_concurrency:
        db.session.commit()
        return dispatch_machine_queue(row.machine_id)  # the machine's queue decides the order
    if not _claim(run_id):
        return "skipped"
    # What was read before the claim still holds: versions never change, and the claim only counted
    # this attempt.
    return _send(run_id, row, attempts=row.dispatch_attempts + 1)


def _send(run_id: str, row: Any = None, attempts: int | None = None) -> str:
    """Send one claimed run; raises RetryDispatch on a transient failure."""
    if row is None:
        row = _read_for_dispatch(run_id)
        attempts = row.dispatch_attempts
    if row.version_id is None or row.machine_found is None:
        fail_run(run_id, "The run's workflow version or machine was deleted before dispatch")
        return "failed"
    if row.disabled:
        fail_run(run_id, f"Machine {row.machine_name} was disabled before the run was dispatched")
        return "failed"
    target = machine_client.MachineTarget(row.machine_type, row.endpoint, row.auth_token)
    payload = build_payload(row, row)
    name = row.machine_name
    run_timeout = run_timeout_for(row)  # the row's run_timeout is the deployment's (None without one)
    config = current_app.config
    db.session.commit()  # hold no transaction while waiting on the network
    try:
        machine_client.dispatch(target, payload, config["DISPATCH_CONNECT_TIMEOUT"], config["DISPATCH_READ_TIMEOUT"])
    except machine_client.PermanentDispatchError as exc:
        fail_run(run_id, str(exc), exc.output)
        return "failed"
    except machine_client.UncertainDispatchError as exc:
        # The machine may have queued it; ask (a few times) before sending it again.
        for pause in (0, 1, 2):
            time.sleep(pause)
            if machine_client.check_prompt(target, run_id) is not None:
                _mark_dispatched(run_id, run_timeout)
                return "dispatched"
        return _retry_or_fail(run_id, attempts, f"Machine {name} did not answer: {exc}")
    except machine_client.TransientDispatchError as exc:
        return _retry_or_fail(run_id, attempts, f"Machine {name} unreachable: {exc}")
    _mark_dispatched(run_id, run_timeout)
    return "dispatched"


def _retry_or_fail(run_id: str, attempts: int, reason: str) -> str:
    if attempts >= current_app.config["DISPATCH_MAX_ATTEMPTS"]:
        fail_run(run_id, f"{reason} (gave up after {attempts} attempts)")
        return "failed"
    _release_claim(run_id)
    raise RetryDispatch(reason)


def active_on_machine(machine_id: str, now=None) -> int:
    """Runs holding one of the machine's slots: sent (or being sent) and not ended."""
    now = now or utcnow()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Run).where(
        Run.machine_id == machine_id, Run.status.not_in(TERMINAL_STATUSES),
        sa.or_(Run.dispatched_at.is_not(None), Run.dispatch_claimed_at >= now - DISPATCH_LEASE)))


def _claim_next(machine_id: str) -> str | None:
    """Claim the oldest waiting run of a machine if a slot is free (row lock on PostgreSQL)."""
    machine = db.session.scalar(sa.select(Machine).where(Machine.id == machine_id).with_for_update())
    if machine is None or machine.disabled:
        db.session.commit()
        return None
    now = utcnow()
    if machine.max_concurrency and active_on_machine(machine_id, now) >= machine.max_concurrency:
        db.session.commit()
        return None
    run_id = db.session.scalar(sa.select(Run.id).where(Run.machine_id == machine_id, _claimable(now - DISPATCH_LEASE))
                               .order_by(Run.created_at, Run.id).limit(1))
    if run_id is None:
        db.session.commit()
        return None
    claimed = _try_claim(run_id, now)
    db.session.commit()
    return run_id if claimed else _claim_next(machine_id)


def dispatch_machine_queue(machine_id: str) -> str:
    """Send waiting runs of a machine in arrival order while it has free slots."""
    results = []
    while True:
        run_id = _claim_next(machine_id)
        if run_id is None:
            break
        try:
            results.append(_send(run_id))
        except RetryDispatch:
            # The run keeps its place (oldest first); try the machine's queue again later.
            attempts = db.session.scalar(sa.select(Run.dispatch_attempts).where(Run.id == run_id)) or 1
            from ..tasks.runs import dispatch_backoff, enqueue_machine_queue
            enqueue_machine_queue(machine_id, delay=dispatch_backoff(attempts + 1)[-1])
            results.append("retrying")
            break
    return ",".join(results) or "waiting"


def interrupt(run_id: str) -> bool:
    """Tell the run's machine to stop it (queue delete, or interrupt if it is executing)."""
    run = db.session.get(Run, run_id)
    machine = db.session.get(Machine, run.machine_id) if run is not None and run.machine_id else None
    if machine is None:
        return False
    target = machine_client.MachineTarget(machine.type, machine.endpoint, machine.auth_token)
    db.session.commit()
    return machine_client.interrupt(target, run_id)
