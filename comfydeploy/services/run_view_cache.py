"""Views of finished runs cached in Redis for GET /api/run, never served after a change.

Only runs in a terminal status are cached (a waiting run's queue position depends on other runs).
Each entry records the run's generation counter and the global epoch it was read under; whatever
changes a run's view marks the run in the session (`mark_changed`), and once that transaction
commits its generation is incremented, so an entry read before the change no longer matches and the
next read goes to the database. Deleting a deployment, machine or workflow rewrites or removes runs
through foreign keys; those bump the epoch (`mark_all_changed`), which invalidates every entry.

Why this is race-free: a reader takes the counters before reading the database and tags its entry
with them. A writer increments after its commit. If the reader saw the old counter, its entry is
tagged old and is never served; if it saw the new one, its database read came after the commit."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g

from ..extensions import db

VIEW_KEY = "cd:rv:"
GEN_KEY = "cd:rvgen:"
EPOCH_KEY = "cd:rvepoch"
ENTRY_TTL = 3600
# Longer than an entry lives: a counter that expired reads as 0, which no live entry is tagged with.
GEN_TTL = 2 * 86400
CHANGED = "cd_changed_runs"
ALL_CHANGED = "cd_all_runs_changed"


def mark_changed(run_id: str) -> None:
    """This transaction changes what GET /api/run shows for the run."""
    db.session.info.setdefault(CHANGED, set()).add(run_id)


def mark_all_changed() -> None:
    """This transaction may change many runs' views at once (cascading deletes, SET NULL)."""
    db.session.info[ALL_CHANGED] = True


def _redis():
    from ..queue import redis_connection
    return redis_connection()


@sa.event.listens_for(so.Session, "after_commit")
def _bump_after_commit(session: so.Session) -> None:
    changed = session.info.pop(CHANGED, None)
    everything = session.info.pop(ALL_CHANGED, False)
    if not changed and not everything:
        return
    pipe = _redis().pipeline(transaction=False)
    for run_id in changed or ():
        pipe.incr(GEN_KEY + run_id)
        pipe.expire(GEN_KEY + run_id, GEN_TTL)
    if everything:
        pipe.incr(EPOCH_KEY)
    pipe.execute()


@sa.event.listens_for(so.Session, "after_rollback")
def _forget_after_rollback(session: so.Session) -> None:
    session.info.pop(CHANGED, None)
    session.info.pop(ALL_CHANGED, None)


def keys_for(run_id: str) -> list[str]:
    """The Redis keys a lookup reads (API-key auth can fetch them in its own round trip)."""
    return [VIEW_KEY + run_id, GEN_KEY + run_id, EPOCH_KEY]


def fetch(run_id: str) -> tuple[bytes | None, list[int]]:
    """(the raw cached entry or None, the counters now): one round trip, or none when the request's
    authentication already fetched the keys (g.prefetched)."""
    keys = keys_for(run_id)
    prefetched = g.get("prefetched") or {}
    if all(key in prefetched for key in keys):
        raw, gen, epoch = (prefetched[key] for key in keys)
    else:
        raw, gen, epoch = _redis().mget(keys)
    return raw, [int(gen or 0), int(epoch or 0)]


def current(raw: bytes | None, stamp: list[int]) -> dict[str, Any] | None:
    """The entry if it was read under these counters (else it is stale: never served)."""
    if raw is None:
        return None
    entry = json.loads(raw)
    return entry if entry["stamp"] == stamp else None


def lookup(run_id: str) -> tuple[dict[str, Any] | None, list[int]]:
    """(the cached entry if it is still current, the counters to tag a new entry with)."""
    raw, stamp = fetch(run_id)
    return current(raw, stamp), stamp


def store(run_id: str, stamp: list[int], entry: dict[str, Any]) -> None:
    """Cache a finished run's view (without signed URLs: those are made fresh on every read)."""
    _redis().set(VIEW_KEY + run_id, json.dumps({**entry, "stamp": stamp}, separators=(",", ":")), ex=ENTRY_TTL)
