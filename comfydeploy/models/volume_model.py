"""Model files (checkpoints, loras, ...) downloaded into storage for machines."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import UTCDateTime, created_column, id_column, updated_column

MODEL_STATUSES = ("pending", "downloading", "ready", "failed")


class VolumeModel(db.Model):
    __tablename__ = "volume_models"
    __table_args__ = (sa.Index("ix_volume_models_owner", "user_id", "org_id", "created_at"),)

    id: so.Mapped[str] = id_column()
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    volume: so.Mapped[str] = so.mapped_column(sa.String(100), nullable=False, default="default")
    folder: so.Mapped[str] = so.mapped_column(sa.String(100), nullable=False)
    filename: so.Mapped[str] = so.mapped_column(sa.String(255), nullable=False)
    url: so.Mapped[str] = so.mapped_column(sa.String(4096), nullable=False)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="pending")
    size: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    downloaded_bytes: so.Mapped[int] = so.mapped_column(sa.BigInteger, nullable=False, default=0)
    sha256: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    key: so.Mapped[str | None] = so.mapped_column(sa.String(1024))
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
