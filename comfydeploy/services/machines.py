"""Machines: where runs execute."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from ..auth import Scope
from ..errors import Conflict, Invalid
from ..extensions import db
from ..models import MACHINE_GPUS, MACHINE_STATUSES, MACHINE_TYPES, Deployment, Machine
from .run_view_cache import mark_all_changed
from .scoped import get_owned

EDITABLE = ("name", "endpoint", "type", "auth_token", "disabled", "gpu", "snapshot", "models", "status",
            "max_concurrency")


def validate_endpoint(endpoint: Any) -> str:
    """An http(s) base URL with a host; trailing slashes are dropped so paths join cleanly."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise Invalid("endpoint is required", {"endpoint": ["Missing data for required field."]})
    endpoint = endpoint.strip().rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("endpoint must be an http(s) URL such as http://127.0.0.1:8188",
                      {"endpoint": ["Must be an http or https URL with a host."]})
    if parts.query or parts.fragment or parts.username or parts.password:
        raise Invalid("endpoint must not carry credentials, a query or a fragment",
                      {"endpoint": ["Remove the query, fragment or credentials."]})
    if len(endpoint) > 2048:
        raise Invalid("endpoint is too long", {"endpoint": ["Longer than maximum length 2048."]})
    return endpoint


def _validate(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if "endpoint" in fields:
        fields["endpoint"] = validate_endpoint(fields["endpoint"])
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name:
            errors["name"] = ["Must not be empty."]
        fields["name"] = name[:200]
    if "type" in fields and fields["type"] not in MACHINE_TYPES:
        errors["type"] = [f"Must be one of: {', '.join(MACHINE_TYPES)}."]
    if fields.get("gpu") is not None and fields["gpu"] not in MACHINE_GPUS:
        errors["gpu"] = [f"Must be one of: {', '.join(MACHINE_GPUS)}."]
    if "status" in fields and fields["status"] not in MACHINE_STATUSES:
        errors["status"] = [f"Must be one of: {', '.join(MACHINE_STATUSES)}."]
    if fields.get("max_concurrency") is not None and fields["max_concurrency"] < 1:
        errors["max_concurrency"] = ["Must be at least 1."]
    if errors:
        raise Invalid("Machine fields are invalid", errors)
    return fields


def create_machine(scope: Scope, **fields: Any) -> Machine:
    """Register a machine in the caller's scope."""
    fields = _validate({k: v for k, v in fields.items() if k in EDITABLE})
    if "endpoint" not in fields:
        raise Invalid("endpoint is required", {"endpoint": ["Missing data for required field."]})
    fields.setdefault("name", "My Machine")
    fields.setdefault("type", "classic")
    machine = Machine(user_id=scope.user_id, org_id=scope.org_id, **fields)
    db.session.add(machine)
    db.session.commit()
    return machine


def list_machines(scope: Scope) -> list[Machine]:
    return list(db.session.scalars(
        sa.select(Machine).where(scope.where(Machine)).order_by(Machine.created_at.desc(), Machine.id)))


def get_machine(scope: Scope, machine_id: str) -> Machine:
    return get_owned(Machine, machine_id, scope, "Machine")


def update_machine(scope: Scope, machine_id: str, **fields: Any) -> Machine:
    """Change a machine's settings; unspecified fields stay as they are."""
    machine = get_machine(scope, machine_id)
    fields = _validate({k: v for k, v in fields.items() if k in EDITABLE})
    for name, value in fields.items():
        setattr(machine, name, value)
    db.session.commit()
    return machine


def delete_machine(scope: Scope, machine_id: str) -> None:
    """Delete a machine unless a deployment still uses it (409 naming them)."""
    machine = get_machine(scope, machine_id)
    using = db.session.execute(
        sa.select(Deployment.id, Deployment.environment).where(Deployment.machine_id == machine.id)).all()
    if using:
        names = ", ".join(f"{row.id} ({row.environment})" for row in using)
        raise Conflict(f"Machine is used by deployments: {names}. Point them at another machine first.",
                       {"deployments": [row.id for row in using]})
    db.session.delete(machine)
    mark_all_changed()  # its runs' machine_id becomes NULL
    db.session.commit()
