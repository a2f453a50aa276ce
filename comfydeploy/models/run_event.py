"""What happened to a run, in order: the source of server-sent events and webhooks."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import JSONType, created_column

EVENT_TYPES = ("status", "progress", "output", "log")


class RunEvent(db.Model):
    __tablename__ = "run_events"
    __table_args__ = (sa.Index("ix_run_events_run", "run_id", "id"),)

    # Monotonic id: the SSE event id, so a client resumes with Last-Event-ID and misses nothing.
    id: so.Mapped[int] = so.mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                          autoincrement=True)
    run_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    type: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False)
    data: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    created_at: so.Mapped[datetime] = created_column()
