"""A run as clients see it: status, progress, and outputs whose URLs are signed and expire."""
from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import File, Run, RunOutput
from ..storage import get_storage

URL_KEYS = ("images", "files", "gifs")


def signed_url(file: File, base_url: str) -> str:
    return get_storage().presign_get(file.key, base_url, current_app.config["OUTPUT_URL_TTL"], file.filename)


def _file_id_from_url(url: Any) -> str | None:
    # download_url we gave the node: <base>/o/<file_id>
    if isinstance(url, str) and "/o/" in url:
        return url.rsplit("/o/", 1)[1].split("?", 1)[0] or None
    return None


def sign_outputs(run: Run, outputs: list[RunOutput], base_url: str) -> list[dict[str, Any]]:
    """Outputs with every media item's url replaced by a fresh signed URL (private storage)."""
    has_media = any(isinstance(o.data, dict) and any(o.data.get(k) for k in URL_KEYS) for o in outputs)
    files = list(db.session.scalars(sa.select(File).where(File.run_id == run.id).order_by(File.created_at))) \
        if has_media else []
    by_id = {f.id: f for f in files}
    by_name: dict[str, list[File]] = {}
    for f in files:
        by_name.setdefault(f.filename, []).append(f)
    result = []
    for output in outputs:
        data = output.data
        if isinstance(data, dict) and any(isinstance(data.get(k), list) for k in URL_KEYS):
            data = copy.deepcopy(data)
            for key in URL_KEYS:
                for item in data.get(key) or []:
                    if not isinstance(item, dict):
                        continue
                    file = by_id.get(_file_id_from_url(item.get("url")))
                    if file is None and item.get("filename") and not item.get("url"):
                        # Legacy nodes (and failed download_url handling) report only the filename.
                        candidates = by_name.get(item["filename"]) or []
                        file = candidates[0] if candidates else None
                    if file is not None:
                        item["url"] = signed_url(file, base_url)
                        item["file_id"] = file.id
        entry = {"data": data, "kind": output.kind, "created_at": output.created_at}
        if output.node_id or output.node_class:
            entry["node_meta"] = {"node_id": output.node_id, "node_class": output.node_class}
        result.append(entry)
    return result


def run_view(run: Run, base_url: str, include_outputs: bool = True, include_queue: bool = True) -> dict[str, Any]:
    view = {
        "id": run.id, "status": run.status, "workflow_id": run.workflow_id,
        "workflow_version_id": run.workflow_version_id, "deployment_id": run.deployment_id,
        "machine_id": run.machine_id, "origin": run.origin, "workflow_inputs": run.workflow_inputs or {},
        "progress": run.progress, "live_status": run.live_status, "error": run.error,
        "created_at": run.created_at, "dispatched_at": run.dispatched_at, "started_at": run.started_at,
        "ended_at": run.ended_at, "node_timings": run.node_timings,
    }
    if include_queue and not run.is_terminal:
        from .eta import queue_info
        view.update(queue_info(run))
    if include_outputs:
        outputs = list(db.session.scalars(
            sa.select(RunOutput).where(RunOutput.run_id == run.id).order_by(RunOutput.seq)))
        view["outputs"] = sign_outputs(run, outputs, base_url)
    return view
