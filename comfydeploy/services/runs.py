"""Runs: create from a deployment (or a version and a machine), read, cancel."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..auth import Scope
from ..errors import Conflict, Invalid, NotFound
from ..extensions import autocommit_connection, db
from ..models import Deployment, Machine, Run, WorkflowVersion
from ..models.base import new_id, utcnow
from .inputs import coerce_inputs, version_input_schema
from .run_state import transition
from .scoped import get_owned


def cd_token(run_id: str) -> str:
    """The per-run secret the machine sends back on every callback: HMAC(secret, run id).

    Derived rather than stored, so authenticating a callback needs no database read."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"cd_token:{run_id}".encode(), hashlib.sha256).hexdigest()


def token_matches(run_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(cd_token(run_id), token)


def run_timeout_for(deployment: Deployment | None) -> int:
    if deployment is not None and deployment.run_timeout:
        return deployment.run_timeout
    return current_app.config["RUN_TIMEOUT"]


def queue_ttl_for(deployment: Deployment | None) -> int:
    if deployment is not None and deployment.queue_ttl:
        return deployment.queue_ttl
    return current_app.config["QUEUE_TTL"]


def _deployment_query(org_scope: bool) -> sa.Select:
    # Built once with bind parameters, so each POST /api/run reuses the compiled statement.
    d, v, m = Deployment.__table__.c, WorkflowVersion.__table__.c, Machine.__table__.c
    return (sa.select(d.id, d.run_timeout, d.queue_ttl, v.id.label("version_id"), v.workflow_id,
                      m.id.label("machine_id"), m.name, m.disabled, m.endpoint, m.status)
            .select_from(Deployment.__table__.join(WorkflowVersion.__table__, v.id == d.workflow_version_id)
                         .join(Machine.__table__, m.id == d.machine_id))
            .where(d.id == sa.bindparam("deployment_id"), Scope.bound_where(d, org_scope)))


DEPLOYMENT_QUERY = {False: _deployment_query(False), True: _deployment_query(True)}


def create_run(scope: Scope, deployment_id: str, inputs: dict[str, Any] | None, base_url: str,
               api_key_id: str | None = None, origin: str = "api", webhook: str | None = None) -> Run:
    """Start a run of a deployment: check the request, commit the run (not-started), enqueue its dispatch."""
    if not isinstance(deployment_id, str) or not deployment_id:
        raise Invalid("deployment_id is required", {"deployment_id": ["Missing data for required field."]})
    # The busiest write path: one Core read of just the columns a run needs (the version's input schema
    # is cached) and one INSERT, each committing alone on an autocommit connection, so no BEGIN/COMMIT
    # round trips. The insert is the only write, so nothing can be left half-done.
    with autocommit_connection() as conn:
        row = conn.execute(DEPLOYMENT_QUERY[bool(scope.org_id)], {
            "deployment_id": deployment_id, "user_id": scope.user_id, "org_id": scope.org_id}).first()
        if row is None:
            raise NotFound(f"Deployment {deployment_id} not found")
        deployment = SimpleNamespace(id=row.id, run_timeout=row.run_timeout, queue_ttl=row.queue_ttl)
        version = SimpleNamespace(id=row.version_id, workflow_id=row.workflow_id)
        machine = SimpleNamespace(id=row.machine_id, name=row.name, disabled=row.disabled, endpoint=row.endpoint,
                                  status=row.status)
        return _start(scope, version, machine, deployment, inputs, base_url, api_key_id, origin, webhook, conn)


def create_manual_run(scope: Scope, version_id: str, machine_id: str, inputs: dict[str, Any] | None,
                      base_url: str) -> Run:
    """Run one version on one machine without a deployment (the dashboard's run form)."""
    from .machines import get_machine
    from .workflows import get_version
    version = get_version(scope, version_id)
    machine = get_machine(scope, machine_id)
    return _start(scope, version, machine, None, inputs, base_url, None, "manual", None)


INSERT_RUN = sa.insert(Run.__table__)


def _start(scope: Scope, version: Any, machine: Any, deployment: Any,
           inputs: dict[str, Any] | None, base_url: str, api_key_id: str | None, origin: str,
           webhook: str | None, autocommit: sa.Connection | None = None) -> Run:
    if inputs is not None and not isinstance(inputs, dict):
        raise Invalid("inputs must be an object of {input_id: value}", {"inputs": ["Must be an object."]})
    if webhook is not None:
        from .webhooks import check_target
        webhook = check_target(webhook, "webhook")
    if machine.disabled:
        raise Conflict(f"Machine {machine.name} is disabled; enable it or point the deployment at another machine")
    if machine.endpoint == "not-ready" or machine.status == "building":
        raise Conflict(f"Machine {machine.name} is still building")
    checked, errors = coerce_inputs(version_input_schema(version.id), inputs)
    if errors:
        raise Invalid("Some inputs are not accepted by this deployment", {"inputs": errors})
    now = utcnow()
    queue_ttl = queue_ttl_for(deployment)
    values = dict(
        id=new_id(), user_id=scope.user_id, org_id=scope.org_id, workflow_id=version.workflow_id,
        workflow_version_id=version.id, deployment_id=deployment.id if deployment else None,
        machine_id=machine.id, origin=origin, status="not-started", workflow_inputs=checked,
        callback_base_url=base_url.rstrip("/"), api_key_id=api_key_id, created_at=now, webhook_url=webhook,
        # A run that never gets dispatched must still end: waiting counts against the queue TTL.
        queue_deadline_at=now + timedelta(seconds=queue_ttl),
        deadline_at=now + timedelta(seconds=queue_ttl + run_timeout_for(deployment)))
    # A Core insert (column defaults still apply): cheaper than an ORM flush on the busiest write path;
    # callers get a detached Run with the values written.
    (autocommit or db.session.connection()).execute(INSERT_RUN, values)
    if autocommit is None:
        db.session.commit()
    run = Run(**values)
    from ..tasks.runs import enqueue_dispatch
    enqueue_dispatch(run.id)
    return run


def get_run(scope: Scope, run_id: str) -> Run:
    return get_owned(Run, run_id, scope, "Run")


def cancel_run(scope: Scope, run_id: str) -> Run:
    """Stop this run only: dropped from our queue, or interrupted on its machine. Idempotent."""
    run = get_run(scope, run_id)
    if run.status == "cancelled":
        return run
    if run.is_terminal:
        raise Conflict(f"Run already ended ({run.status}); only queued or running runs can be cancelled")
    was_dispatched = run.dispatched_at is not None or run.dispatch_claimed_at is not None
    if not transition(run.id, "cancelled", error="Cancelled by request"):
        db.session.refresh(run)
        if run.status != "cancelled":
            raise Conflict(f"Run already ended ({run.status})")
        return run
    from ..tasks.runs import cancel_dispatch_job, enqueue_interrupt
    if was_dispatched:
        enqueue_interrupt(run.id)
    else:
        cancel_dispatch_job(run.id)
    db.session.refresh(run)
    return run


def wait_until_done(run_id: str, seconds: float, poll: float = 0.2) -> Run:
    """The run once it ended, or as it is after `seconds` (wait mode of POST /api/run)."""
    import time
    deadline = time.monotonic() + seconds
    while True:
        db.session.expire_all()
        run = db.session.get(Run, run_id)
        if run.is_terminal or time.monotonic() >= deadline:
            return run
        db.session.commit()  # end the read transaction so the next poll sees new rows
        time.sleep(poll)
