"""Loading one row of the caller's scope: another tenant's id answers 404, never its data."""
from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa

from ..auth import Scope
from ..errors import NotFound
from ..extensions import db

T = TypeVar("T")


def get_owned(model: type[T], object_id: Any, scope: Scope, noun: str) -> T:
    """The row of `model` with this id in the caller's scope, or NotFound naming it."""
    row = db.session.scalar(sa.select(model).where(model.id == object_id, scope.where(model)))
    if row is None:
        raise NotFound(f"{noun} {object_id} not found")
    return row
