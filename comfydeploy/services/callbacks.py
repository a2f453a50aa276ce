"""What the machine reports: POST /api/update-run bodies (reference §6.3) and upload URLs (§6.4)."""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..errors import Invalid, NotFound, Unauthorized
from ..extensions import autocommit_connection, db
from ..machines.client import describe_prompt_error
from ..models import File, Run, RunEvent, RunLog, RunOutput
from ..models.base import new_id, utcnow
from ..storage import get_storage
from . import run_hooks
from .run_state import finish_if_done, transition, update_run
from .run_view_cache import mark_changed
from .runs import token_matches

MEDIA_KEYS = ("images", "files", "gifs", "model_file", "result", "text_file", "audio")
ACCEPTED_STATUSES = ("not-started", "running", "uploading", "success", "failed", "cancelled")
# The error a run gets when the machine reports one of these statuses (unless it reported its own).
STATUS_ERRORS = {"failed": "The machine reported a failure", "cancelled": "Cancelled on the machine"}
RUN_ID_RE = re.compile(r"^[0-9a-fA-F-]{1,64}$")
MAX_LOG_CHARS = 200_000


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(run_id: Any, authorization: str | None) -> str:
    """Check the run id and its cd_token; returns the run id."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise Invalid("run_id must be the run's id", {"run_id": ["Not a valid run id."]})
    token = bearer(authorization)
    if token is None:
        if current_app.config["ALLOW_TOKENLESS_CALLBACKS"]:
            return run_id  # documented opt-in for legacy nodes that send no token
        raise Unauthorized("Missing 'Authorization: Bearer <cd_token>' for this run")
    if not token_matches(run_id, token):
        raise Unauthorized("Wrong cd_token for this run")
    return run_id


def _needs_db(body: dict[str, Any]) -> bool:
    """Most callbacks are ws_events that change nothing we keep; answer those without the database."""
    if any(key in body for key in ("status", "output_data", "live_status", "progress", "log_data")):
        return True
    event = body.get("ws_event")
    if not isinstance(event, dict):
        return False
    name = event.get("event")
    if name in ("execution_success", "execution_interrupted", "execution_error"):
        return True
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if name == "executing" and data.get("node") is None:
        return True
    return name == "executed" and _has_media(data.get("output"), data)


def _has_media(output: Any, data: dict[str, Any] | None = None) -> bool:
    """Whether an executed node's output will be uploaded (non-temp items under a media key)."""
    if not isinstance(output, dict):
        return False
    for key in MEDIA_KEYS:
        items = output.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str) or (isinstance(item, dict) and item.get("type") != "temp"):
                    return True
    return False


def accept_update(body: Any, authorization: str | None) -> str | None:
    """Validate and authenticate one callback: its run id when it needs the database, else None."""
    if not isinstance(body, dict):
        raise Invalid("Body must be a JSON object with run_id")
    if "run_id" in body and body["run_id"] is None:
        # A node that queued a prompt without prompt_id leaks events with run_id null (node trace
        # no_prompt_id): nothing to update, and answering 200 stops its retries.
        return None
    run_id = authenticate(body.get("run_id"), authorization)
    status = body.get("status")
    if status is not None and status not in ACCEPTED_STATUSES:
        raise Invalid(f"status must be one of: {', '.join(ACCEPTED_STATUSES)}", {"status": ["Unknown status."]})
    return run_id if _needs_db(body) else None


def apply_update(body: Any, authorization: str | None) -> str:
    """Validate, authenticate and apply one callback; returns what was done (for logs and tests)."""
    run_id = accept_update(body, authorization)
    if run_id is None:
        return "noop"
    return apply_accepted(run_id, body)


def apply_accepted(run_id: str, body: dict[str, Any]) -> str:
    """Apply a callback that accept_update already checked (inline, or from the callback stream):
    one transaction, then the webhooks and queue steps that follow it."""
    if PROGRESS_KEYS.issuperset(body) and db.engine.dialect.name == "postgresql":
        return _store_progress_alone(run_id, body)
    try:
        done = apply_in_transaction(run_id, body)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if not run_exists(run_id):
            raise NotFound(f"Run {run_id} not found")  # deleted meanwhile: foreign keys refused its rows
        raise
    run_hooks.run_after_commit()
    return done


def run_exists(run_id: str) -> bool:
    """Whether the run is still there (a callback's rows were refused: deleted, or another error?)."""
    return db.session.connection().execute(RUN_EXISTS, {"run_id": run_id}).first() is not None


def apply_in_transaction(run_id: str, body: dict[str, Any]) -> str:
    """The writes of one accepted callback in the caller's transaction (the caller commits, then calls
    run_hooks.run_after_commit); returns what was done, for logs and tests.

    No read of the run first: the cd_token proves the run existed, an update of a run deleted since
    changes nothing, and an insert for it fails its foreign key (apply_accepted answers 404)."""
    status = body.get("status")
    done: list[str] = []
    gpu_event_id = body.get("gpu_event_id")
    if status and isinstance(gpu_event_id, str) and gpu_event_id:
        # Every callback repeats it; recording it once, with a status, saves a write per callback.
        update_run(run_id, Run.gpu_event_id.is_(None), gpu_event_id=gpu_event_id[:200])
    if "output_data" in body and body["output_data"] is not None:
        output = _store_output(run_id, body["output_data"], body.get("node_meta"))
        if output.kind == "output":
            run_hooks.after_commit(run_hooks.output_added, run_id, output.id)
        done.append("output")
    if "live_status" in body or "progress" in body:
        _store_live_status(run_id, body.get("live_status"), body.get("progress"))
        done.append("live_status")
    if body.get("log_data"):
        _store_logs(run_id, body["log_data"])
        done.append("log")
    if isinstance(body.get("ws_event"), dict):
        done.extend(_apply_ws_event(run_id, body["ws_event"]))
    if status:
        # After the outputs: an error the machine reported in one wins (transition keeps the first error).
        transition(run_id, status, error=STATUS_ERRORS.get(status), commit=False)
        done.append(f"status:{status}")
    return ",".join(done) or "noop"


def _store_output(run_id: str, data: Any, node_meta: Any) -> RunOutput:
    node_id = node_class = None
    if isinstance(node_meta, dict):
        node_id = str(node_meta.get("node_id"))[:64] if node_meta.get("node_id") is not None else None
        node_class = str(node_meta.get("node_class"))[:200] if node_meta.get("node_class") else None
    kind = "output"
    error = None
    if isinstance(data, list):
        kind = "timing"  # HEAD node: per-node timing array at the end of the prompt
        update_run(run_id, node_timings=data)
    elif isinstance(data, dict) and ("error" in data or "exception_message" in data):
        kind = "error"
        error = _describe_error(data)
    output = RunOutput(id=new_id(), run_id=run_id, kind=kind, node_id=node_id, node_class=node_class, data=data)
    db.session.add(output)
    run_hooks.record(run_id, "output", {"output_id": output.id, "kind": kind, "data": data,
                                        "node_meta": {"node_id": node_id, "node_class": node_class}})
    if error:
        update_run(run_id, Run.error.is_(None), error=error)
    return output


def _describe_error(data: dict[str, Any]) -> str:
    if "exception_message" in data:  # ComfyUI execution_error
        return (f"{data.get('exception_type', 'Error')} in node {data.get('node_id')} ({data.get('node_type')}): "
                f"{str(data.get('exception_message', '')).strip()}")[:2000]
    error = data.get("error")
    if isinstance(error, dict):
        if "node_errors" in error:  # validation failure: {"error": {"error": {...}, "node_errors": {...}}}
            return f"Invalid prompt: {describe_prompt_error(error)}"[:2000]
        if "error_type" in error:
            return f"{error.get('error_type')}: {str(error.get('stack_trace', '')).strip().splitlines()[-1:] or ''}"[:2000]
        return str(error.get("message") or error)[:2000]
    return str(error)[:2000]



def _update_live_status() -> sa.Update:
    # Prebuilt: progress callbacks are the most frequent state change (one per sampler step). A NULL
    # parameter keeps the column; non-terminal runs only, so a late live_status never rewrites a
    # finished run's progress.
    runs = Run.__table__.c
    return (sa.update(Run.__table__)
            .where(runs.id == sa.bindparam("run_id"), runs.ended_at.is_(None))
            .values(live_status=sa.func.coalesce(sa.bindparam("live_status", type_=sa.String), runs.live_status),
                    progress=sa.func.coalesce(sa.bindparam("progress", type_=sa.Float), runs.progress)))


UPDATE_LIVE_STATUS = _update_live_status()
RUN_EXISTS = sa.select(Run.id).where(Run.id == sa.bindparam("run_id"))


PROGRESS_KEYS = frozenset(("run_id", "live_status", "progress", "gpu_event_id"))


def _progress_statement() -> sa.Insert:
    # PostgreSQL only (SQLite has no UPDATE inside WITH): the progress update and its run event as one
    # statement. The node sends one such callback per executing node, the most frequent state change.
    runs, events = Run.__table__.c, RunEvent.__table__.c
    updated = UPDATE_LIVE_STATUS.returning(runs.id).cte("updated")
    return sa.insert(RunEvent.__table__).from_select(
        ["run_id", "type", "data", "created_at"],
        sa.select(updated.c.id, sa.literal("progress", sa.String), sa.bindparam("data", type_=events.data.type),
                  sa.bindparam("now", type_=events.created_at.type)))


PROGRESS_STATEMENT = _progress_statement()


def _store_progress_alone(run_id: str, body: dict[str, Any]) -> str:
    """A callback carrying only live status and progress: one statement on an autocommit connection
    (was BEGIN, UPDATE, INSERT, COMMIT). The run view cache needs no bump: only unfinished runs change,
    and those are never cached."""
    values = _live_values(body.get("live_status"), body.get("progress"))
    if not values:
        return "noop"
    with autocommit_connection() as conn:
        conn.execute(PROGRESS_STATEMENT, {"run_id": run_id, "live_status": values.get("live_status"),
                                          "progress": values.get("progress"), "data": values, "now": utcnow()})
    return "live_status"


def _live_values(live_status: Any, progress: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if isinstance(live_status, str):
        values["live_status"] = live_status[:500]
    if isinstance(progress, (int, float)) and not isinstance(progress, bool) and 0 <= progress <= 1:
        values["progress"] = float(progress)
    return values


def _store_live_status(run_id: str, live_status: Any, progress: Any) -> None:
    values = _live_values(live_status, progress)
    if values:
        updated = db.session.connection().execute(UPDATE_LIVE_STATUS, {
            "run_id": run_id, "live_status": values.get("live_status"), "progress": values.get("progress")}).rowcount
        if updated:
            run_hooks.record(run_id, "progress", values)


def _store_logs(run_id: str, log_data: Any) -> None:
    entries = log_data if isinstance(log_data, list) else [log_data]
    for entry in entries[:100]:
        text = entry.get("logs") if isinstance(entry, dict) else entry
        if isinstance(text, str) and text:
            db.session.add(RunLog(run_id=run_id, text=text[:MAX_LOG_CHARS]))
            run_hooks.record(run_id, "log", {"text": text[:MAX_LOG_CHARS]})


def _apply_ws_event(run_id: str, event: dict[str, Any]) -> list[str]:
    name = event.get("event")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if name == "executed" and _has_media(data.get("output"), data):
        update_run(run_id, expects_media=True)
        return ["expects_media"]
    if name == "execution_success" or (name == "executing" and data.get("node") is None):
        update_run(run_id, execution_done=True)
        return ["success"] if finish_if_done(run_id, commit=False) else ["execution_done"]
    if name == "execution_interrupted":
        transition(run_id, "cancelled", error="Interrupted on the machine", commit=False)
        return ["cancelled"]
    if name == "execution_error":
        update_run(run_id, Run.error.is_(None), error=_describe_error(data))
        mark_changed(run_id)
        return ["error"]
    return []


# ---- output uploads ------------------------------------------------------------------------------

SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._ -]+")
CONTENT_TYPE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}$")


def safe_file_name(name: Any) -> str:
    """A plain basename: no directories, no traversal, no control characters."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("file_name is required", {"file_name": ["Missing data for required field."]})
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = SAFE_NAME_RE.sub("_", base).strip(" .")
    if not base:
        raise Invalid("file_name has no usable characters", {"file_name": ["Not a valid file name."]})
    if len(base) > 180:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:170] + dot + ext[:9]) if dot else base[:180]
    return base


def issue_output_upload(run_id: Any, file_name: Any, content_type: Any, authorization: str | None) -> dict:
    """A presigned PUT for one output of a run, under outputs/runs/<run_id>/<name>."""
    run_id = authenticate(run_id, authorization)
    if not isinstance(content_type, str) or not CONTENT_TYPE_RE.match(content_type):
        raise Invalid("type must be a content type such as image/png", {"type": ["Not a valid content type."]})
    name = safe_file_name(file_name)
    run = db.session.get(Run, run_id)
    if run is None:
        raise NotFound(f"Run {run_id} not found")
    config = current_app.config
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    # Same basename from two nodes or subfolders: keep both, suffixing the later one.
    for n in range(0, 1000):
        candidate = name if n == 0 else f"{stem}_{n}{'.' + ext if ext else ''}"
        key = f"outputs/runs/{run_id}/{candidate}"
        row = File(run_id=run_id, user_id=run.user_id, org_id=run.org_id, kind="output", key=key, filename=name,
                   content_type=content_type, max_size=config["OUTPUT_MAX_BYTES"], status="pending")
        savepoint = db.session.begin_nested()
        try:
            db.session.add(row)
            savepoint.commit()
            mark_changed(run_id)  # legacy outputs name files: a new one can change the run's signed URLs
            break
        except IntegrityError:
            savepoint.rollback()
    else:
        raise Invalid("Too many outputs with this name")
    db.session.commit()
    url, include_acl = get_storage().presign_put(row.key, content_type, run.callback_base_url,
                                                  config["UPLOAD_URL_TTL"], max_size=config["OUTPUT_MAX_BYTES"])
    return {"url": url, "download_url": f"{run.callback_base_url}/o/{row.id}", "include_acl": include_acl,
            "is_public": False}


def mark_uploaded(key: str, size: int) -> None:
    db.session.execute(sa.update(File).where(File.key == key).values(status="uploaded", size=size,
                                                                        uploaded_at=utcnow()))
    db.session.commit()
