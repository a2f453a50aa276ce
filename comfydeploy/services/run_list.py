"""Listing runs, newest first, filtered by deployment, workflow, machine or status."""
from __future__ import annotations

import sqlalchemy as sa

from ..auth import Scope
from ..models import Run
from .pagination import keyset_page


def list_runs(scope: Scope, limit: int = 20, cursor: str | None = None, deployment_id: str | None = None,
              workflow_id: str | None = None, status: str | None = None,
              machine_id: str | None = None) -> tuple[list[Run], str | None]:
    query = sa.select(Run).where(scope.where(Run))
    if deployment_id:
        query = query.where(Run.deployment_id == deployment_id)
    if workflow_id:
        query = query.where(Run.workflow_id == workflow_id)
    if machine_id:
        query = query.where(Run.machine_id == machine_id)
    if status:
        query = query.where(Run.status == status)
    return keyset_page(query, Run, Run.created_at, scope, limit, cursor, "run")
