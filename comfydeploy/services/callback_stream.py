"""Optional asynchronous callback processing (CALLBACK_PROCESSING=stream).

A fleet of machines sends one callback per ComfyUI event. In stream mode the web process only
validates and authenticates a callback, appends the ones that change state to a Redis stream (one
round trip) and answers 200; `flask rq callbacks` consumers apply them in arrival order. Callbacks
that change nothing we keep (most ws_events) are answered without either."""
from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

from ..errors import AppError
from ..extensions import db
from ..queue import fast_command, redis_connection

STREAM = "cd:callbacks"
GROUP = "appliers"
MAX_LENGTH = 1_000_000
log = logging.getLogger(__name__)


def push(run_id: str, body: dict[str, Any]) -> None:
    """Queue an accepted callback for a consumer."""
    fast_command(redis_connection(), "XADD", STREAM, "MAXLEN", "~", MAX_LENGTH, "*",
                 "r", run_id, "b", json.dumps(body, separators=(",", ":")))


def _ensure_group(conn) -> None:
    try:
        conn.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except Exception as exc:  # noqa: BLE001 - BUSYGROUP: it exists already
        if "BUSYGROUP" not in str(exc):
            raise


def backlog() -> int:
    """Callbacks waiting in the stream."""
    return int(redis_connection().xlen(STREAM))


def _apply_batch(entries: list[tuple[Any, str, bytes]]) -> None:
    """Apply queued callbacks ((entry id, run id, body)) in one transaction (one commit per batch instead
    of one per callback, which is what lets one consumer keep up with a fleet), then their webhooks and
    queue steps. If any fails, the batch is rolled back and applied one callback at a time, so one bad
    entry costs only itself."""
    from . import run_hooks
    from .callbacks import apply_in_transaction
    try:
        for _, run_id, raw in entries:
            apply_in_transaction(run_id, json.loads(raw))
        db.session.commit()
    except Exception:  # noqa: BLE001 - retried one by one below, where each error is logged
        db.session.rollback()
        _apply_one_by_one(entries)
        return
    run_hooks.run_after_commit(keep_going=True)


def _apply_one_by_one(entries: list[tuple[Any, str, bytes]]) -> None:
    from .callbacks import apply_accepted
    for entry_id, run_id, raw in entries:
        try:
            apply_accepted(run_id, json.loads(raw))
        except AppError as exc:  # e.g. the run was deleted meanwhile: nothing to retry
            db.session.rollback()
            log.info("callback %s skipped: %s", entry_id, exc.message)
        except Exception:  # noqa: BLE001 - one bad entry must not stall the stream
            db.session.rollback()
            log.exception("callback %s failed", entry_id)


def consume(burst: bool = False, batch: int = 200, block_ms: int = 1000) -> int:
    """Apply queued callbacks; with burst, return once the stream is empty. Returns how many."""
    conn = redis_connection()
    _ensure_group(conn)
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    applied = 0
    while True:
        # Entries a crashed consumer took but never acknowledged come back after a minute.
        _, entries, *_ = conn.xautoclaim(STREAM, GROUP, consumer, min_idle_time=60_000, start_id="0-0", count=batch)
        if not entries:
            reply = conn.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=batch, block=None if burst else block_ms)
            entries = reply[0][1] if reply else []
        if not entries:
            if burst:
                return applied
            continue
        _apply_batch([(entry_id, fields[b"r"].decode(), fields[b"b"]) for entry_id, fields in entries])
        done = [entry_id for entry_id, _ in entries]
        conn.xack(STREAM, GROUP, *done)
        conn.xdel(STREAM, *done)
        applied += len(done)
        db.session.remove()
