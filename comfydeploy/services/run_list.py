"""Listing runs with keyset pagination over (created_at, id): constant cost at any depth."""
from __future__ import annotations

import sqlalchemy as sa

from ..auth import Scope
from ..errors import Invalid
from ..extensions import db
from ..models import Run


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
    if cursor:
        after = db.session.execute(sa.select(Run.created_at, Run.id).where(Run.id == cursor, scope.where(Run))).first()
        if after is None:
            raise Invalid("cursor is not a run of yours", {"cursor": ["Unknown cursor."]})
        query = query.where(sa.or_(Run.created_at < after.created_at,
                                   sa.and_(Run.created_at == after.created_at, Run.id < after.id)))
    rows = list(db.session.scalars(query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
