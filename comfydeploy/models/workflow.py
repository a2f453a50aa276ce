"""Workflows and their numbered versions."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import JSONType, created_column, id_column, updated_column


class Workflow(db.Model):
    __tablename__ = "workflows"
    __table_args__ = (
        sa.Index("ix_workflows_user_scope", "user_id", "org_id", "updated_at"),
        sa.Index("ix_workflows_personal", "user_id", "updated_at", "id", postgresql_where=sa.text("org_id IS NULL"),
                 sqlite_where=sa.text("org_id IS NULL")),
        sa.Index("ix_workflows_org_scope", "org_id", "updated_at"),
    )

    id: so.Mapped[str] = id_column()
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    name: so.Mapped[str] = so.mapped_column(sa.String(200), nullable=False)
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()

    versions: so.Mapped[list["WorkflowVersion"]] = so.relationship(
        back_populates="workflow_row", order_by="WorkflowVersion.version.desc()", cascade="all, delete-orphan",
        passive_deletes=True, lazy="select",
    )


class WorkflowVersion(db.Model):
    __tablename__ = "workflow_versions"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "version"),)

    id: so.Mapped[str] = id_column()
    workflow_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    version: so.Mapped[int] = so.mapped_column(sa.Integer, nullable=False)
    workflow: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    workflow_api: so.Mapped[Any] = so.mapped_column(JSONType, nullable=False)
    snapshot: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()

    workflow_row: so.Mapped[Workflow] = so.relationship(back_populates="versions", foreign_keys=[workflow_id])
