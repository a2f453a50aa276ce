"""API keys (stored hashed) and the ComfyUI plugin's login handshake."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import UTCDateTime, created_column, id_column


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    __table_args__ = (sa.Index("ix_api_keys_owner", "user_id", "org_id", "created_at"),)

    id: so.Mapped[str] = id_column()  # also the JWT's jti claim
    name: so.Mapped[str] = so.mapped_column(sa.String(200), nullable=False)
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, nullable=False)
    last4: so.Mapped[str] = so.mapped_column(sa.String(4), nullable=False)
    source: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="api")
    created_at: so.Mapped[datetime] = created_column()
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())


class AuthRequest(db.Model):
    __tablename__ = "auth_requests"

    request_id: so.Mapped[str] = so.mapped_column(sa.String(128), primary_key=True)
    user_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    api_key_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("api_keys.id", ondelete="SET NULL"))
    consumed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = created_column()
