"""ComfyUI machines runs are dispatched to."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import JSONType, UTCDateTime, created_column, id_column, updated_column

MACHINE_TYPES = ("classic", "runpod-serverless", "modal-serverless", "comfy-deploy-serverless")
MACHINE_STATUSES = ("ready", "building", "error", "offline")
MACHINE_GPUS = ("T4", "A10G", "A100", "L4")


class Machine(db.Model):
    __tablename__ = "machines"
    __table_args__ = (
        sa.Index("ix_machines_user_scope", "user_id", "org_id"),
        sa.Index("ix_machines_org_scope", "org_id"),
        sa.Index("ix_machines_poll", "disabled", "last_polled_at"),
    )

    id: so.Mapped[str] = id_column()
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    name: so.Mapped[str] = so.mapped_column(sa.String(200), nullable=False)
    endpoint: so.Mapped[str] = so.mapped_column(sa.String(2048), nullable=False)
    type: so.Mapped[str] = so.mapped_column(sa.String(32), nullable=False, default="classic")
    auth_token: so.Mapped[str | None] = so.mapped_column(sa.String(4096))
    disabled: so.Mapped[bool] = so.mapped_column(sa.Boolean, nullable=False, default=False)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), nullable=False, default="ready")
    gpu: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    snapshot: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    models: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    max_concurrency: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    last_seen_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_polled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    queue_size: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    health_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()
