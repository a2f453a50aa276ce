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


def consume(burst: bool = False, batch: int = 200, block_ms: int = 1000) -> int:
    """Apply queued callbacks; with burst, return once the stream is empty. Returns how many."""
    from .callbacks import apply_accepted
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
        done = []
        for entry_id, fields in entries:
            try:
                apply_accepted(fields[b"r"].decode(), json.loads(fields[b"b"]))
            except AppError as exc:  # e.g. the run was deleted meanwhile: nothing to retry
                db.session.rollback()
                log.info("callback %s skipped: %s", entry_id, exc.message)
            except Exception:  # noqa: BLE001 - one bad entry must not stall the stream
                db.session.rollback()
                log.exception("callback %s failed", entry_id)
            done.append(entry_id)
        conn.xack(STREAM, GROUP, *done)
        conn.xdel(STREAM, *done)
        applied += len(done)
        db.session.remove()
