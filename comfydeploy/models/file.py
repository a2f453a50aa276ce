"""Objects in storage: run inputs uploaded by callers and outputs uploaded by machines."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import UTCDateTime, created_column, id_column


class File(db.Model):
    __tablename__ = "files"
    __table_args__ = (
        sa.Index("ix_files_run", "run_id", "created_at"),
        sa.Index("ix_files_owner", "user_id", "org_id", "created_at"),
    )

    id: so.Mapped[str] = id_column()
    user_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    run_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False)  # input | output | model
    key: so.Mapped[str] = so.mapped_column(sa.String(1024), unique=True, nullable=False)
    filename: so.Mapped[str] = so.mapped_column(sa.String(512), nullable=False)
    content_type: so.Mapped[str] = so.mapped_column(sa.String(200), nullable=False)
    max_size: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    size: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="pending")
    created_at: so.Mapped[datetime] = created_column()
    uploaded_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
