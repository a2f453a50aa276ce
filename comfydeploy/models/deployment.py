"""A workflow version pinned to a machine in one environment."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import JSONType, created_column, id_column, updated_column

ENVIRONMENTS = ("production", "staging", "public-share")


class Deployment(db.Model):
    __tablename__ = "deployments"
    __table_args__ = (
        # One deployment per (workflow, environment), enforced by the database, not only by code.
        sa.UniqueConstraint("workflow_id", "environment"),
        sa.Index("ix_deployments_user_scope", "user_id", "org_id", "created_at"),
        sa.Index("ix_deployments_org_scope", "org_id", "created_at"),
        sa.Index("ix_deployments_machine", "machine_id"),
        sa.Index("ix_deployments_version", "workflow_version_id"),
    )

    id: so.Mapped[str] = id_column()
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    workflow_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    workflow_version_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("workflow_versions.id"), nullable=False)
    machine_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("machines.id"), nullable=False)
    environment: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False)
    share_slug: so.Mapped[str | None] = so.mapped_column(sa.String(200), unique=True)
    description: so.Mapped[str | None] = so.mapped_column(sa.Text)
    showcase_media: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    run_timeout: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    queue_ttl: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    created_at: so.Mapped[datetime] = created_column()
    updated_at: so.Mapped[datetime] = updated_column()

    workflow: so.Mapped["Workflow"] = so.relationship()  # noqa: F821
    version: so.Mapped["WorkflowVersion"] = so.relationship()  # noqa: F821
    machine: so.Mapped["Machine"] = so.relationship()  # noqa: F821
