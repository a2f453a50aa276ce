"""API keys: minted as HS256 JWTs, stored hashed, shown once, revocable."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_jwt_extended import create_access_token

from ..auth import Scope, forget_key, hash_token
from ..errors import Invalid, NotFound
from ..extensions import db
from ..models import ApiKey
from ..models.base import new_id, utcnow
from .users import is_member
from .scoped import get_owned


def create_api_key(scope: Scope, name: str, expires_in: int | None = None, source: str = "api",
                   commit: bool = True) -> tuple[ApiKey, str]:
    """Mint a key for the scope; return the row and the token (the only time it is visible)."""
    name = (name or "").strip()
    if not name:
        raise Invalid("API key name is required", {"name": ["Missing data for required field."]})
    if len(name) > 200:
        raise Invalid("API key name is too long", {"name": ["Longer than maximum length 200."]})
    if expires_in is not None and expires_in <= 0:
        raise Invalid("expires_in must be a positive number of seconds", {"expires_in": ["Must be positive."]})
    if scope.org_id and not is_member(scope.user_id, scope.org_id):
        raise NotFound("No such organisation")
    key_id = new_id()
    claims = {"jti": key_id}
    if scope.org_id:
        claims["org_id"] = scope.org_id
    expires = timedelta(seconds=expires_in) if expires_in else False
    token = create_access_token(identity=scope.user_id, additional_claims=claims, expires_delta=expires)
    key = ApiKey(id=key_id, name=name, user_id=scope.user_id, org_id=scope.org_id, key_hash=hash_token(token),
                 last4=token[-4:], source=source,
                 expires_at=utcnow() + timedelta(seconds=expires_in) if expires_in else None)
    db.session.add(key)
    if commit:
        db.session.commit()
    return key, token


def list_api_keys(scope: Scope, include_revoked: bool = False) -> list[ApiKey]:
    query = sa.select(ApiKey).where(scope.where(ApiKey)).order_by(ApiKey.created_at.desc())
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(db.session.scalars(query))


def get_api_key(scope: Scope, key_id: str) -> ApiKey:
    return get_owned(ApiKey, key_id, scope, "API key")


def revoke_api_key(scope: Scope, key_id: str) -> ApiKey:
    """Revoke a key; the next request made with it is refused. Revoking twice is harmless."""
    key = get_api_key(scope, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    forget_key(key.id)
    return key


def revoke_by_id(key_id: str) -> ApiKey:
    """Admin revocation by id, whatever the owner."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    forget_key(key.id)
    return key
