"""Deployments: a workflow version pinned to a machine in an environment."""
from __future__ import annotations

import re
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..auth import Scope
from ..errors import Invalid
from ..extensions import db
from ..models import ENVIRONMENTS, Deployment, Workflow, WorkflowVersion
from .machines import get_machine
from .users import scope_display_name
from .workflows import get_version
from .run_view_cache import mark_all_changed
from .scoped import get_owned


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80] or "workflow"


def _validate_showcase(media: Any) -> list[dict[str, Any]] | None:
    if media is None:
        return None
    if not isinstance(media, list) or len(media) > 50:
        raise Invalid("showcase_media must be a list of {url, isCover}", {"showcase_media": ["Must be a list."]})
    clean = []
    for item in media:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or \
                not item["url"].startswith(("http://", "https://")):
            raise Invalid("showcase_media items need an http(s) url", {"showcase_media": ["Each item needs a url."]})
        clean.append({"url": item["url"], "isCover": bool(item.get("isCover", False))})
    return clean


def upsert_deployment(scope: Scope, workflow_version_id: str, machine_id: str, environment: str,
                      description: str | None = None, showcase_media: Any = None,
                      run_timeout: int | None = None, queue_ttl: int | None = None) -> tuple[Deployment, bool]:
    """Create the deployment of (workflow, environment) or repoint the existing one; returns (row, created)."""
    if environment not in ENVIRONMENTS:
        raise Invalid(f"environment must be one of: {', '.join(ENVIRONMENTS)}",
                      {"environment": [f"Must be one of: {', '.join(ENVIRONMENTS)}."]})
    for name, value in (("run_timeout", run_timeout), ("queue_ttl", queue_ttl)):
        if value is not None and not 1 <= value <= 7 * 24 * 3600:
            raise Invalid(f"{name} must be between 1 second and 7 days", {name: ["Out of range."]})
    version = get_version(scope, workflow_version_id)
    machine = get_machine(scope, machine_id)
    media = _validate_showcase(showcase_media)
    existing = db.session.scalar(sa.select(Deployment).where(
        Deployment.workflow_id == version.workflow_id, Deployment.environment == environment))
    if existing is not None:
        existing.workflow_version_id = version.id
        existing.machine_id = machine.id
        existing.user_id = scope.user_id
        if description is not None:
            existing.description = description
        if media is not None:
            existing.showcase_media = media
        if run_timeout is not None:
            existing.run_timeout = run_timeout
        if queue_ttl is not None:
            existing.queue_ttl = queue_ttl
        db.session.commit()
        return existing, False
    deployment = Deployment(user_id=scope.user_id, org_id=scope.org_id, workflow_id=version.workflow_id,
                            workflow_version_id=version.id, machine_id=machine.id, environment=environment,
                            description=description, showcase_media=media, run_timeout=run_timeout,
                            queue_ttl=queue_ttl)
    if environment == "public-share":
        workflow = db.session.get(Workflow, version.workflow_id)
        base = slugify(f"{scope_display_name(scope.user_id, scope.org_id)} {workflow.name}")
        deployment.share_slug = _free_slug(base)
    db.session.add(deployment)
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent request created the same (workflow, environment): update that one instead.
        db.session.rollback()
        return upsert_deployment(scope, workflow_version_id, machine_id, environment, description,
                                 showcase_media, run_timeout, queue_ttl)
    return deployment, True


def _free_slug(base: str) -> str:
    slug = base
    while db.session.scalar(sa.select(Deployment.id).where(Deployment.share_slug == slug)):
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def list_deployments(scope: Scope, workflow_id: str | None = None) -> list[Deployment]:
    query = sa.select(Deployment).where(scope.where(Deployment))
    if workflow_id:
        query = query.where(Deployment.workflow_id == workflow_id)
    return list(db.session.scalars(query.order_by(Deployment.created_at.desc(), Deployment.id)))


def get_deployment(scope: Scope, deployment_id: str) -> Deployment:
    return get_owned(Deployment, deployment_id, scope, "Deployment")


def update_deployment(scope: Scope, deployment_id: str, **fields: Any) -> Deployment:
    """Repoint a deployment to another version or machine, or edit its share info."""
    deployment = get_deployment(scope, deployment_id)
    if fields.get("workflow_version_id"):
        version = get_version(scope, fields["workflow_version_id"])
        if version.workflow_id != deployment.workflow_id:
            raise Invalid("workflow_version_id must be a version of this deployment's workflow",
                          {"workflow_version_id": ["Belongs to another workflow."]})
        deployment.workflow_version_id = version.id
    if fields.get("machine_id"):
        deployment.machine_id = get_machine(scope, fields["machine_id"]).id
    if "description" in fields:
        deployment.description = fields["description"]
    if "showcase_media" in fields:
        deployment.showcase_media = _validate_showcase(fields["showcase_media"])
    for name in ("run_timeout", "queue_ttl"):
        if name in fields:
            value = fields[name]
            if value is not None and not 1 <= value <= 7 * 24 * 3600:
                raise Invalid(f"{name} must be between 1 second and 7 days", {name: ["Out of range."]})
            setattr(deployment, name, value)
    db.session.commit()
    return deployment


def delete_deployment(scope: Scope, deployment_id: str) -> None:
    deployment = get_deployment(scope, deployment_id)
    db.session.delete(deployment)
    mark_all_changed()  # its runs' deployment_id becomes NULL
    db.session.commit()


def version_for(deployment: Deployment) -> WorkflowVersion:
    return db.session.get(WorkflowVersion, deployment.workflow_version_id)
