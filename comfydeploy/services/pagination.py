"""Keyset pagination, newest first: constant cost at any depth, unlike OFFSET."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..auth import Scope
from ..errors import Invalid
from ..extensions import db


def keyset_page(query: sa.Select, model: Any, time_column: Any, scope: Scope, limit: int,
                cursor: str | None, noun: str) -> tuple[list[Any], str | None]:
    """Rows of `query` ordered by (time_column, id) descending, after the row whose id is `cursor`."""
    if cursor:
        after = db.session.execute(
            sa.select(time_column, model.id).where(model.id == cursor, scope.where(model))).first()
        if after is None:
            raise Invalid(f"cursor is not a {noun} of yours", {"cursor": ["Unknown cursor."]})
        # A row comparison lets the database seek straight into the (time, id) index.
        query = query.where(sa.tuple_(time_column, model.id) < sa.tuple_(after[0], after[1]))
    rows = list(db.session.scalars(query.order_by(time_column.desc(), model.id.desc()).limit(limit + 1)))
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
