"""Shared column helpers for the typed SQLAlchemy models."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite drops tzinfo on its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def id_column() -> sa.orm.MappedColumn:
    return sa.orm.mapped_column(sa.String(36), primary_key=True, default=new_id)


def created_column() -> sa.orm.MappedColumn:
    return sa.orm.mapped_column(UTCDateTime(), nullable=False, default=utcnow)


def updated_column() -> sa.orm.MappedColumn:
    return sa.orm.mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)
