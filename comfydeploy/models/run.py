"""Runs of a workflow version on a machine, and what the machine reported back."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import time

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .base import JSONType, UTCDateTime, created_column, id_column, utcnow

RUN_STATUSES = ("not-started", "running", "uploading", "success", "failed", "cancelled", "timeout")
TERMINAL_STATUSES = frozenset({"success", "failed", "cancelled", "timeout"})
# Statuses only move forward along this rank; terminal ones never change again.
STATUS_RANK = {"not-started": 0, "running": 1, "uploading": 2, "success": 3, "failed": 3, "cancelled": 3, "timeout": 3}
RUN_ORIGINS = ("api", "manual", "public-share")


class Run(db.Model):
    __tablename__ = "runs"
    __table_args__ = (
        # Personal scope is "user_id = ? AND org_id IS NULL": PostgreSQL only reads rows in index order
        # for it from a partial index (IS NULL is not an equality for ordering purposes).
        sa.Index("ix_runs_personal", "user_id", "created_at", "id", postgresql_where=sa.text("org_id IS NULL"),
                 sqlite_where=sa.text("org_id IS NULL")),
        sa.Index("ix_runs_org_scope", "org_id", "created_at", "id"),
        sa.Index("ix_runs_deployment", "deployment_id", "created_at", "id"),
        sa.Index("ix_runs_workflow", "workflow_id", "created_at", "id"),
        sa.Index("ix_runs_machine_status", "machine_id", "status"),
        sa.Index("ix_runs_status_deadline", "status", "deadline_at"),
    )

    id: so.Mapped[str] = id_column()  # also the ComfyUI prompt_id
    user_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    org_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    workflow_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    workflow_version_id: so.Mapped[str | None] = so.mapped_column(
        sa.ForeignKey("workflow_versions.id", ondelete="SET NULL"))
    deployment_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("deployments.id", ondelete="SET NULL"))
    machine_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("machines.id", ondelete="SET NULL"))
    origin: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="api")
    status: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="not-started")
    workflow_inputs: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    progress: so.Mapped[float | None] = so.mapped_column(sa.Float)
    live_status: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    node_timings: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    gpu_event_id: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    # Base URL the machine calls back (PUBLIC_BASE_URL, or the base URL of the POST /api/run request).
    callback_base_url: so.Mapped[str] = so.mapped_column(sa.String(2048), nullable=False)
    api_key_id: so.Mapped[str | None] = so.mapped_column(sa.ForeignKey("api_keys.id", ondelete="SET NULL"))
    # What the machine's ws_events told us: whether media uploads are still to come, and whether
    # ComfyUI finished executing. The HEAD node never sends success for runs without uploads (§6.5).
    expects_media: so.Mapped[bool] = so.mapped_column(sa.Boolean, nullable=False, default=False)
    execution_done: so.Mapped[bool] = so.mapped_column(sa.Boolean, nullable=False, default=False)
    dispatch_attempts: so.Mapped[int] = so.mapped_column(sa.Integer, nullable=False, default=0)
    dispatch_claimed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    dispatched_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    deadline_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Latest moment the run may still wait for dispatch (queue time-to-live).
    queue_deadline_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    webhook_url: so.Mapped[str | None] = so.mapped_column(sa.String(2048))
    created_at: so.Mapped[datetime] = created_column()
    started_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    ended_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow)

    outputs: so.Mapped[list["RunOutput"]] = so.relationship(
        order_by="RunOutput.seq", cascade="all, delete-orphan", passive_deletes=True, lazy="select")
    machine: so.Mapped["Machine | None"] = so.relationship(lazy="select")  # noqa: F821

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class RunOutput(db.Model):
    __tablename__ = "run_outputs"
    __table_args__ = (sa.Index("ix_run_outputs_run", "run_id", "seq"),)

    id: so.Mapped[str] = id_column()
    run_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    # Arrival order; callbacks can share a timestamp, nanoseconds keep them apart.
    seq: so.Mapped[int] = so.mapped_column(sa.BigInteger, nullable=False, default=time.time_ns)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), nullable=False, default="output")
    node_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    node_class: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    data: so.Mapped[Any] = so.mapped_column(JSONType, nullable=True)
    created_at: so.Mapped[datetime] = created_column()


class RunLog(db.Model):
    __tablename__ = "run_logs"
    __table_args__ = (sa.Index("ix_run_logs_run", "run_id", "created_at"),)

    id: so.Mapped[str] = id_column()
    run_id: so.Mapped[str] = so.mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    text: so.Mapped[str] = so.mapped_column(sa.Text, nullable=False)
    created_at: so.Mapped[datetime] = created_column()
