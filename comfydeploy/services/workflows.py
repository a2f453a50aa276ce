"""Workflows pushed from ComfyUI or the API, and their versions."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..auth import Scope
from ..errors import Invalid, NotFound
from ..extensions import db
from ..models import Workflow, WorkflowVersion
from ..models.base import utcnow
from .pagination import keyset_page
from .run_view_cache import mark_all_changed
from .scoped import get_owned

MAX_NODES = 5000


def validate_workflow_api(workflow_api: Any) -> None:
    """workflow_api must be {node_id: {class_type: str, inputs: object}}."""
    if not isinstance(workflow_api, dict) or not workflow_api:
        raise Invalid("workflow_api must be a non-empty object of nodes",
                      {"workflow_api": ["Must be an object keyed by node id."]})
    if len(workflow_api) > MAX_NODES:
        raise Invalid(f"workflow_api has more than {MAX_NODES} nodes", {"workflow_api": ["Too many nodes."]})
    errors: dict[str, list[str]] = {}
    for node_id, node in workflow_api.items():
        if not isinstance(node, dict):
            errors[str(node_id)] = ["Node must be an object with class_type and inputs."]
        elif not isinstance(node.get("class_type"), str) or not node["class_type"]:
            errors[str(node_id)] = ["Node needs a class_type string."]
        elif not isinstance(node.get("inputs"), dict):
            errors[str(node_id)] = ["Node needs an inputs object."]
    if errors:
        raise Invalid("workflow_api has malformed nodes", {"workflow_api": errors})


def get_workflow(scope: Scope, workflow_id: str) -> Workflow:
    return get_owned(Workflow, workflow_id, scope, "Workflow")


def push_workflow(scope: Scope, workflow_api: dict, workflow: Any = None, snapshot: Any = None,
                  workflow_id: str | None = None, workflow_name: str | None = None) -> WorkflowVersion:
    """Create a workflow with version 1, or add the next version to an existing one."""
    validate_workflow_api(workflow_api)
    if workflow is not None and not isinstance(workflow, dict):
        raise Invalid("workflow must be the ComfyUI graph object", {"workflow": ["Must be an object."]})
    if workflow_id:
        target = get_workflow(scope, workflow_id)
    elif workflow_name and workflow_name.strip():
        target = Workflow(user_id=scope.user_id, org_id=scope.org_id, name=workflow_name.strip()[:200])
        db.session.add(target)
        db.session.flush()
    else:
        raise Invalid("Send workflow_id to add a version, or workflow_name to create a workflow",
                      {"workflow_name": ["Required when workflow_id is absent."]})
    target_id = target.id
    # The (workflow_id, version) unique constraint settles races: on PostgreSQL the row lock
    # serialises writers; on any backend a collision is retried with the next number.
    for _attempt in range(5):
        db.session.execute(sa.select(Workflow.id).where(Workflow.id == target_id).with_for_update())
        next_version = (db.session.scalar(
            sa.select(sa.func.max(WorkflowVersion.version)).where(WorkflowVersion.workflow_id == target_id)) or 0) + 1
        version = WorkflowVersion(workflow_id=target_id, version=next_version, workflow=workflow,
                                  workflow_api=workflow_api, snapshot=snapshot)
        savepoint = db.session.begin_nested()
        try:
            db.session.add(version)
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            continue
        db.session.execute(sa.update(Workflow).where(Workflow.id == target_id).values(updated_at=utcnow()))
        db.session.commit()
        return version
    db.session.rollback()
    raise Invalid("Could not number the new version; try again")


def get_version(scope: Scope, version_id: str) -> WorkflowVersion:
    """A version, only when its workflow belongs to the caller."""
    version = db.session.scalar(
        sa.select(WorkflowVersion).join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
        .where(WorkflowVersion.id == version_id, scope.where(Workflow)))
    if version is None:
        raise NotFound(f"Workflow version {version_id} not found")
    return version


def list_workflows(scope: Scope, limit: int = 20, cursor: str | None = None) -> tuple[list[Workflow], str | None]:
    """Newest-updated first, keyset-paginated by (updated_at, id)."""
    query = sa.select(Workflow).where(scope.where(Workflow))
    return keyset_page(query, Workflow, Workflow.updated_at, scope, limit, cursor, "workflow")


def latest_versions(workflow_ids: list[str]) -> dict[str, int]:
    if not workflow_ids:
        return {}
    rows = db.session.execute(
        sa.select(WorkflowVersion.workflow_id, sa.func.max(WorkflowVersion.version))
        .where(WorkflowVersion.workflow_id.in_(workflow_ids)).group_by(WorkflowVersion.workflow_id))
    return {wid: v for wid, v in rows}


def version_summaries(workflow_id: str) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(WorkflowVersion.id, WorkflowVersion.version, WorkflowVersion.created_at)
        .where(WorkflowVersion.workflow_id == workflow_id).order_by(WorkflowVersion.version.desc()))
    return [{"id": r.id, "version": r.version, "created_at": r.created_at} for r in rows]


def delete_workflow(scope: Scope, workflow_id: str) -> None:
    """Delete a workflow with its versions, deployments and runs."""
    from ..models import Deployment
    workflow = get_workflow(scope, workflow_id)
    db.session.execute(sa.delete(Deployment).where(Deployment.workflow_id == workflow.id))
    db.session.delete(workflow)
    mark_all_changed()  # its runs go with it
    db.session.commit()
