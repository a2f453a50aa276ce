"""People, organisations and who belongs where."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import UTCDateTime, created_column, id_column


class User(db.Model):
    __tablename__ = "users"

    id: so.Mapped[str] = id_column()
    email: so.Mapped[str] = so.mapped_column(sa.String(320), unique=True, nullable=False)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), nullable=False, default="")
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256), nullable=False)
    is_admin: so.Mapped[bool] = so.mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: so.Mapped[datetime] = created_column()
    last_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    def set_password(self, password: str) -> None:
        # werkzeug's default is scrypt, a memory-hard KDF.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: so.Mapped[str] = id_column()
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True, nullable=False)
    created_at: so.Mapped[datetime] = created_column()


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("org_id", "user_id"), sa.Index("ix_memberships_user", "user_id"))

    id: so.Mapped[str] = id_column()
    org_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False)
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    role: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="member")
    created_at: so.Mapped[datetime] = created_column()

    org: so.Mapped[Organisation] = so.relationship(lazy="joined")
