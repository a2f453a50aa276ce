"""The ComfyUI plugin's login handshake (reference §10.1)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from ..auth import Scope
from ..errors import Conflict, Invalid
from ..extensions import db
from ..models import AuthRequest
from ..models.base import utcnow
from .api_keys import create_api_key
from .users import scope_display_name

MAX_REQUEST_ID = 128


def validate_request_id(request_id: str) -> str:
    if not request_id or len(request_id) > MAX_REQUEST_ID or not all(c.isalnum() or c in "-_" for c in request_id):
        raise Invalid("request_id must be 1-128 letters, digits, '-' or '_'")
    return request_id


def get_auth_request(request_id: str) -> AuthRequest | None:
    return db.session.get(AuthRequest, validate_request_id(request_id))


def grant(request_id: str, scope: Scope) -> AuthRequest:
    """Record that the logged-in user grants the plugin access to `scope`."""
    validate_request_id(request_id)
    row = db.session.get(AuthRequest, request_id)
    if row is not None:
        if row.consumed_at is not None:
            raise Conflict("This request was already used; start the login again from ComfyUI")
        if row.user_id and row.user_id != scope.user_id:
            raise Conflict("This request was already granted by someone else")
        row.user_id, row.org_id = scope.user_id, scope.org_id
    else:
        row = AuthRequest(request_id=request_id, user_id=scope.user_id, org_id=scope.org_id)
        db.session.add(row)
    db.session.commit()
    return row


def respond(request_id: str) -> tuple[int, dict]:
    """What the plugin's poll gets: 201 not ready, one 200 with a key, then 201 already used."""
    validate_request_id(request_id)
    row = db.session.get(AuthRequest, request_id)
    if row is None or row.user_id is None:
        return 201, {"message": "Not ready yet."}
    if row.consumed_at is not None:
        return 201, {"message": "Already used."}
    # Claim the request atomically so two concurrent polls cannot both mint a key.
    claimed = db.session.execute(
        sa.update(AuthRequest)
        .where(AuthRequest.request_id == request_id, AuthRequest.consumed_at.is_(None))
        .values(consumed_at=utcnow())
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return 201, {"message": "Already used."}
    scope = Scope(user_id=row.user_id, org_id=row.org_id)
    key, token = create_api_key(scope, "ComfyUI plugin", expires_in=current_app.config["PLUGIN_TOKEN_TTL"],
                                source="plugin", commit=False)
    db.session.flush()
    db.session.execute(sa.update(AuthRequest).where(AuthRequest.request_id == request_id).values(api_key_id=key.id))
    db.session.commit()
    return 200, {"api_key": token, "name": scope_display_name(scope.user_id, scope.org_id)}
