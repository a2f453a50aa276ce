"""Idempotency keys of POST /api/run: the same key and body within 24 h returns the same run."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import created_column, id_column


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope_key", "key"), sa.Index("ix_idempotency_keys_created", "created_at"))

    id: so.Mapped[str] = id_column()
    scope_key: so.Mapped[str] = so.mapped_column(sa.String(80), nullable=False)  # "<user_id>:<org_id or ''>"
    key: so.Mapped[str] = so.mapped_column(sa.String(255), nullable=False)
    request_hash: so.Mapped[str] = so.mapped_column(sa.String(64), nullable=False)
    run_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"))
    created_at: so.Mapped[datetime] = created_column()
