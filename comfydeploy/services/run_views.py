"""A run as clients see it: status, progress, and outputs whose URLs are signed and expire."""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..auth import Scope
from ..errors import NotFound
from ..extensions import autocommit_connection, db
from ..models import TERMINAL_STATUSES, File, Run, RunOutput
from ..schemas.run import RunOutputSchema, RunSchema
from ..storage import get_storage
from . import run_view_cache

URL_KEYS = ("images", "files", "gifs")


def signed_url(file: File, base_url: str) -> str:
    return get_storage().presign_get(file.key, base_url, current_app.config["OUTPUT_URL_TTL"], file.filename)


def _file_id_from_url(url: Any) -> str | None:
    # download_url we gave the node: <base>/o/<file_id>
    if isinstance(url, str) and "/o/" in url:
        return url.rsplit("/o/", 1)[1].split("?", 1)[0] or None
    return None


def _has_media(outputs: list[Any]) -> bool:
    """Whether any output lists media items (whose URLs need the run's files to be signed)."""
    return any(isinstance(o.data, dict) and any(o.data.get(k) for k in URL_KEYS) for o in outputs)


def sign_outputs(run: Run, outputs: list[RunOutput], base_url: str) -> list[dict[str, Any]]:
    """Outputs with every media item's url replaced by a fresh signed URL (private storage)."""
    files = list(db.session.scalars(sa.select(File).where(File.run_id == run.id).order_by(File.created_at))) \
        if _has_media(outputs) else []
    return _sign(outputs, files, base_url)


def _sign(outputs: list[Any], files: list[Any], base_url: str) -> list[dict[str, Any]]:
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
    if include_queue and run.status not in TERMINAL_STATUSES:
        from .eta import queue_info
        view.update(queue_info(run))
    if include_outputs:
        outputs = list(db.session.scalars(
            sa.select(RunOutput).where(RunOutput.run_id == run.id).order_by(RunOutput.seq)))
        view["outputs"] = sign_outputs(run, outputs, base_url)
    return view


_runs, _outputs, _files = Run.__table__, RunOutput.__table__, File.__table__
VIEW_COLUMNS = [_runs.c[name] for name in (
    "user_id", "org_id", "id", "status", "workflow_id", "workflow_version_id", "deployment_id", "machine_id",
    "origin", "workflow_inputs", "progress", "live_status", "error", "created_at", "dispatched_at", "started_at",
    "ended_at", "node_timings")]
OUTPUT_COLUMNS = [_outputs.c.kind.label("out_kind"), _outputs.c.data.label("out_data"),
                  _outputs.c.created_at.label("out_created_at"), _outputs.c.node_id.label("out_node_id"),
                  _outputs.c.node_class.label("out_node_class")]


class _OutputRow:
    __slots__ = ("kind", "data", "created_at", "node_id", "node_class")

    def __init__(self, row: Any):
        self.kind, self.data, self.created_at = row.out_kind, row.out_data, row.out_created_at
        self.node_id, self.node_class = row.out_node_id, row.out_node_class


def _view_query(org_scope: bool) -> sa.Select:
    # Built once with bind parameters: each poll reuses the compiled statement and its cache key.
    return (sa.select(*VIEW_COLUMNS, *OUTPUT_COLUMNS)
            .select_from(_runs.outerjoin(_outputs, _outputs.c.run_id == _runs.c.id))
            .where(_runs.c.id == sa.bindparam("run_id"), Scope.bound_where(_runs.c, org_scope))
            .order_by(_outputs.c.seq))


VIEW_QUERY = {False: _view_query(False), True: _view_query(True)}
FILES_QUERY = sa.select(_files.c.id, _files.c.key, _files.c.filename).where(
    _files.c.run_id == sa.bindparam("run_id")).order_by(_files.c.created_at)


def load_run_view(scope: Scope, run_id: str, base_url: str) -> dict[str, Any]:
    """The view of one run of the caller's scope: a finished run from its cached view when that is
    current, else the run and its outputs in one Core round trip (its files in a second only when
    outputs carry media)."""
    cached, stamp = run_view_cache.lookup(run_id)
    return _view(scope, run_id, base_url, cached, stamp)


@dataclass(frozen=True)
class _Rendered:
    """A finished run's GET /api/run body as this process last answered it."""

    raw: bytes  # the cached view it was rendered from, byte for byte
    stamp: tuple[int, int]
    base_url: str
    owner: tuple[str, str | None]
    body: str
    rendered_at: float


_RENDERED: dict[str, _Rendered] = {}
RENDERED_MAX = 4096


def run_view_body(scope: Scope, run_id: str, base_url: str) -> str:
    """GET /api/run's JSON body, the hot polling path. A finished run's body is reused by this process
    while the cached view it came from is current and its signed URLs are young (at most 60 s and a
    twentieth of OUTPUT_URL_TTL): a poll then skips decoding the view, signing every output URL (a
    boto3 presign each on S3) and encoding the answer. Whatever changes the run bumps its generation
    counter, which every poll reads in its key-check round trip, so a changed run is never reused."""
    raw, stamp = run_view_cache.fetch(run_id)
    reuse_for = min(60, current_app.config["OUTPUT_URL_TTL"] // 20)
    hit = _RENDERED.get(run_id) if raw is not None else None
    if (hit is not None and hit.raw == raw and hit.stamp == tuple(stamp) and hit.base_url == base_url
            and time.monotonic() - hit.rendered_at < reuse_for):
        _require_owner(scope, hit.owner, run_id)
        return hit.body
    cached = run_view_cache.current(raw, stamp)
    body = json.dumps(dump_run_view(_view(scope, run_id, base_url, cached, stamp)), default=str)
    if cached is not None and reuse_for > 0:
        if len(_RENDERED) >= RENDERED_MAX:
            _forget_oldest()
        _RENDERED[run_id] = _Rendered(raw, tuple(stamp), base_url, tuple(cached["owner"]), body, time.monotonic())
    return body


def _forget_oldest() -> None:
    try:
        _RENDERED.pop(next(iter(_RENDERED)), None)  # dicts keep insertion order: the oldest entry
    except (RuntimeError, StopIteration):
        pass  # another thread changed the dict meanwhile: the next store tries again


def _require_owner(scope: Scope, owner: Any, run_id: str) -> None:
    """A cached view records its run's (user_id, org_id): another tenant's poll is a 404, as from SQL."""
    user_id, org_id = owner
    if not scope.owns(SimpleNamespace(user_id=user_id, org_id=org_id)):
        raise NotFound(f"Run {run_id} not found")


def _view(scope: Scope, run_id: str, base_url: str, cached: dict[str, Any] | None,
          stamp: list[int]) -> dict[str, Any]:
    if cached is not None:
        _require_owner(scope, cached["owner"], run_id)
        outputs = [SimpleNamespace(**o) for o in cached["outputs"]]
        files = [SimpleNamespace(id=f[0], key=f[1], filename=f[2]) for f in cached["files"]]
        return {**cached["run"], "outputs": _sign(outputs, files, base_url)}
    params = {"run_id": run_id, "user_id": scope.user_id, "org_id": scope.org_id}
    with autocommit_connection() as conn:  # a read of one run: no BEGIN/ROLLBACK
        rows = conn.execute(VIEW_QUERY[bool(scope.org_id)], params).all()
        if not rows:
            raise NotFound(f"Run {run_id} not found")
        run = rows[0]
        outputs = [_OutputRow(row) for row in rows if row.out_kind is not None]
        files = conn.execute(FILES_QUERY, {"run_id": run_id}).all() if _has_media(outputs) else []
    view = run_view(run, base_url, include_outputs=False)
    if run.status in TERMINAL_STATUSES:
        run_view_cache.store(run_id, stamp, {
            "owner": [run.user_id, run.org_id], "run": dump_run_view(view),
            "outputs": [{"kind": o.kind, "data": o.data, "node_id": o.node_id, "node_class": o.node_class,
                         "created_at": o.created_at.isoformat()} for o in outputs],
            "files": [[f.id, f.key, f.filename] for f in files]})
    view["outputs"] = _sign(outputs, files, base_url)
    return view


def dump_run_view(view: dict[str, Any]) -> dict[str, Any]:
    """What RunSchema().dump(view) gives (datetimes as ISO 8601, progress as float), at a fraction of
    the cost: this runs on every poll. tests/test_run_views.py holds the two to the same output."""
    body = {key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in view.items()
            if key in RUN_FIELDS}
    if body.get("progress") is not None:
        body["progress"] = float(body["progress"])
    if "outputs" in view:
        body["outputs"] = [{key: (value.isoformat() if isinstance(value, datetime) else value)
                            for key, value in output.items() if key in OUTPUT_FIELDS} for output in view["outputs"]]
    return body


RUN_FIELDS = frozenset(RunSchema._declared_fields) - {"outputs"}
OUTPUT_FIELDS = frozenset(RunOutputSchema._declared_fields)
