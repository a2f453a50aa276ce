"""Webhook endpoints (per user or organisation), deliveries and every delivery attempt."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import JSONType, UTCDateTime, created_column, id_column, updated_column

WEBHOOK_EVENTS = ("run.started", "run.output", "run.succeeded", "run.failed", "run.cancelled", "run.timeout")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("ix_webhook_endpoints_owner", "user_id", "org_id"),
                      sa.Index("ix_webhook_endpoints_org", "org_id"))

    id: so.Mapped[str] = id_column()
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    url: so.Mapped[str] = so.mapped_column(sa.String(2048), nullable=False)
    description: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    events: so.Mapped[Any] = so.mapped_column(JSONType, nullable=False)
    # Signing needs the secret itself (HMAC), so it is stored; it is shown in full only on create/rotate.
    secret: so.Mapped[str] = so.mapped_column(sa.String(100), nullable=False)
    enabled: so.Mapped[bool] = so.mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
                      sa.Index("ix_webhook_deliveries_run", "run_id", "created_at"),
                      sa.UniqueConstraint("dedupe_key"))

    id: so.Mapped[str] = id_column()  # also the webhook-id header
    endpoint_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    run_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"))
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    # One delivery per (destination, run, event, event row): repeated triggers do not send twice.
    dedupe_key: so.Mapped[str] = so.mapped_column(sa.String(300), nullable=False)
    url: so.Mapped[str] = so.mapped_column(sa.String(2048), nullable=False)
    event_type: so.Mapped[str] = so.mapped_column(sa.String(40), nullable=False)
    payload: so.Mapped[Any] = so.mapped_column(JSONType, nullable=False)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="pending")
    attempts: so.Mapped[int] = so.mapped_column(sa.Integer, nullable=False, default=0)
    last_status_code: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()


class WebhookAttempt(db.Model):
    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),)

    id: so.Mapped[str] = id_column()
    delivery_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
                                                   nullable=False)
    attempted_at: so.Mapped[datetime] = created_column()
    status_code: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    latency_ms: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
