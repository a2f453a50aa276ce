"""Runs: create from a deployment, dispatch to the machine, read back with private output URLs."""
from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..auth import Scope
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..machines import client as machine_client
from ..models import Deployment, Machine, Run, RunOutput, WorkflowVersion
from ..models.base import utcnow
from .inputs import coerce_inputs, input_schema
from .run_state import transition

# A dispatch claim older than this is considered abandoned (the worker died mid-request).
DISPATCH_LEASE = timedelta(minutes=5)
MAX_INPUTS_BYTES = 5 * 1024 * 1024


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


def create_run(scope: Scope, deployment_id: str, inputs: dict[str, Any] | None, base_url: str,
               api_key_id: str | None = None, origin: str = "api") -> Run:
    """Start a run of a deployment: check the request, commit the run (not-started), enqueue its dispatch."""
    if not isinstance(deployment_id, str) or not deployment_id:
        raise Invalid("deployment_id is required", {"deployment_id": ["Missing data for required field."]})
    deployment = db.session.scalar(
        sa.select(Deployment).where(Deployment.id == deployment_id, scope.where(Deployment)))
    if deployment is None:
        raise NotFound(f"Deployment {deployment_id} not found")
    version = db.session.get(WorkflowVersion, deployment.workflow_version_id)
    machine = db.session.get(Machine, deployment.machine_id)
    return _start(scope, version, machine, deployment, inputs, base_url, api_key_id, origin)


def create_manual_run(scope: Scope, version_id: str, machine_id: str, inputs: dict[str, Any] | None,
                      base_url: str) -> Run:
    """Run one version on one machine without a deployment (the dashboard's run form)."""
    from .machines import get_machine
    from .workflows import get_version
    version = get_version(scope, version_id)
    machine = get_machine(scope, machine_id)
    return _start(scope, version, machine, None, inputs, base_url, None, "manual")


def _start(scope: Scope, version: WorkflowVersion, machine: Machine, deployment: Deployment | None,
           inputs: dict[str, Any] | None, base_url: str, api_key_id: str | None, origin: str) -> Run:
    if inputs is not None and not isinstance(inputs, dict):
        raise Invalid("inputs must be an object of {input_id: value}", {"inputs": ["Must be an object."]})
    if machine.disabled:
        raise Conflict(f"Machine {machine.name} is disabled; enable it or point the deployment at another machine")
    if machine.endpoint == "not-ready" or machine.status == "building":
        raise Conflict(f"Machine {machine.name} is still building")
    values, errors = coerce_inputs(input_schema(version.workflow_api), inputs)
    if errors:
        raise Invalid("Some inputs are not accepted by this deployment", {"inputs": errors})
    now = utcnow()
    run = Run(user_id=scope.user_id, org_id=scope.org_id, workflow_id=version.workflow_id,
              workflow_version_id=version.id, deployment_id=deployment.id if deployment else None,
              machine_id=machine.id, origin=origin, status="not-started", workflow_inputs=values,
              callback_base_url=base_url.rstrip("/"), api_key_id=api_key_id, created_at=now,
              # A run that never gets dispatched must still end: queue time counts against the timeout.
              deadline_at=now + timedelta(seconds=run_timeout_for(deployment)))
    db.session.add(run)
    db.session.commit()
    from ..tasks.runs import enqueue_dispatch
    enqueue_dispatch(run.id)
    return run


def get_run(scope: Scope, run_id: str) -> Run:
    run = db.session.scalar(sa.select(Run).where(Run.id == run_id, scope.where(Run)))
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    return run


def build_payload(run: Run, version: WorkflowVersion) -> dict[str, Any]:
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


def _claim_for_dispatch(run_id: str) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        sa.update(Run).where(
            Run.id == run_id, Run.status == "not-started", Run.dispatched_at.is_(None),
            sa.or_(Run.dispatch_claimed_at.is_(None), Run.dispatch_claimed_at < now - DISPATCH_LEASE))
        .values(dispatch_claimed_at=now, dispatch_attempts=Run.dispatch_attempts + 1)
    ).rowcount == 1
    db.session.commit()
    return claimed


def _release_claim(run_id: str) -> None:
    db.session.execute(sa.update(Run).where(Run.id == run_id, Run.dispatched_at.is_(None))
                       .values(dispatch_claimed_at=None))
    db.session.commit()


def _mark_dispatched(run: Run) -> None:
    deployment = db.session.get(Deployment, run.deployment_id) if run.deployment_id else None
    now = utcnow()
    db.session.execute(sa.update(Run).where(Run.id == run.id, Run.dispatched_at.is_(None)).values(
        dispatched_at=now, deadline_at=now + timedelta(seconds=run_timeout_for(deployment))))
    db.session.commit()


def fail_run(run_id: str, reason: str, output: Any = None) -> bool:
    """End a run as failed with a readable reason (and the machine's error as an output)."""
    if output is not None:
        db.session.add(RunOutput(run_id=run_id, kind="error", data=output))
    return transition(run_id, "failed", error=reason)


class RetryDispatch(Exception):
    """Raised by the dispatch job so RQ retries it with backoff."""


def dispatch(run_id: str) -> str:
    """Send a run to its machine once. Idempotent: a duplicated or retried job never sends it twice."""
    if not _claim_for_dispatch(run_id):
        return "skipped"
    run = db.session.get(Run, run_id)
    version = db.session.get(WorkflowVersion, run.workflow_version_id) if run.workflow_version_id else None
    machine = db.session.get(Machine, run.machine_id) if run.machine_id else None
    if version is None or machine is None:
        fail_run(run_id, "The run's workflow version or machine was deleted before dispatch")
        return "failed"
    if machine.disabled:
        fail_run(run_id, f"Machine {machine.name} was disabled before the run was dispatched")
        return "failed"
    target = machine_client.MachineTarget(machine.type, machine.endpoint, machine.auth_token)
    payload = build_payload(run, version)
    attempts = run.dispatch_attempts
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
                _mark_dispatched(run)
                return "dispatched"
        return _retry_or_fail(run_id, attempts, f"Machine {machine.name} did not answer: {exc}")
    except machine_client.TransientDispatchError as exc:
        return _retry_or_fail(run_id, attempts, f"Machine {machine.name} unreachable: {exc}")
    _mark_dispatched(run)
    return "dispatched"


def _retry_or_fail(run_id: str, attempts: int, reason: str) -> str:
    if attempts >= current_app.config["DISPATCH_MAX_ATTEMPTS"]:
        fail_run(run_id, f"{reason} (gave up after {attempts} attempts)")
        return "failed"
    _release_claim(run_id)
    raise RetryDispatch(reason)
