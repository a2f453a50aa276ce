"""Idempotency-Key on POST /api/run: a repeated request within 24 hours returns the same run."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..auth import Scope
from ..errors import Conflict, Invalid
from ..extensions import db
from ..models import IdempotencyKey, Run
from ..models.base import utcnow

TTL = timedelta(hours=24)
MAX_KEY = 255


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_once(scope: Scope, key: str, body: Any, create: Callable[[], Run]) -> tuple[Run, bool]:
    """(run, replayed): the run made for this key and body, or a new one made by `create`."""
    if not key or len(key) > MAX_KEY:
        raise Invalid(f"Idempotency-Key must be 1-{MAX_KEY} characters", {"Idempotency-Key": ["Invalid length."]})
    scope_key = f"{scope.user_id}:{scope.org_id or ''}"
    digest = request_hash(body)
    existing = db.session.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.scope_key == scope_key,
                                                                 IdempotencyKey.key == key))
    if existing is not None and existing.created_at < utcnow() - TTL:
        db.session.delete(existing)  # expired: the key may be used for a new request
        db.session.commit()
        existing = None
    if existing is None:
        row = IdempotencyKey(scope_key=scope_key, key=key, request_hash=digest)
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # a concurrent request with the same key won the race
            existing = db.session.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.scope_key == scope_key,
                                                                         IdempotencyKey.key == key))
        else:
            try:
                run = create()
            except Exception:
                db.session.rollback()
                db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
                db.session.commit()
                raise
            db.session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.id == row.id).values(run_id=run.id))
            db.session.commit()
            return run, False
    if existing.request_hash != digest:
        raise Invalid("This Idempotency-Key was already used with a different request body",
                      {"Idempotency-Key": ["Reused with a different body."]})
    if existing.run_id is None:
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly",
                       headers={"Retry-After": "1"})
    return db.session.get(Run, existing.run_id), True
