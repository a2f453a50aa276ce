"""Who is calling: API keys (revocable HS256 JWTs) for the API, the session cookie for pages."""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app, g, redirect, request, session, url_for
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from .errors import Unauthorized, json_error
from .extensions import db, jwt
from .models import ApiKey, Membership, User
from .models.base import utcnow


@dataclass(frozen=True)
class Scope:
    """The tenant a request acts for: the user's personal space, or an organisation."""

    user_id: str
    org_id: str | None = None

    def where(self, model: Any) -> sa.ColumnElement[bool]:
        """SQL condition selecting rows of `model` that belong to this scope."""
        if self.org_id:
            return model.org_id == self.org_id
        return sa.and_(model.user_id == self.user_id, model.org_id.is_(None))

    def owns(self, row: Any) -> bool:
        if self.org_id:
            return row.org_id == self.org_id
        return row.user_id == self.user_id and row.org_id is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def configure_jwt(app) -> None:
    app.config.update(
        JWT_TOKEN_LOCATION=["headers"],
        JWT_HEADER_NAME="Authorization",
        JWT_HEADER_TYPE="Bearer",
        JWT_IDENTITY_CLAIM="user_id",
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ACCESS_TOKEN_EXPIRES=False,
        JWT_ERROR_MESSAGE_KEY="message",
        JWT_COOKIE_CSRF_PROTECT=False,  # keys travel in headers only; no csrf claim in them
    )


def register_jwt_loaders() -> None:
    """Every auth failure answers 401 in the API error shape, saying which failure it was."""

    @jwt.unauthorized_loader
    def _missing(reason: str):
        return json_error(401, f"Missing or unusable Authorization header: send 'Authorization: Bearer <api key>' ({reason})")

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        if "Signature verification failed" in reason:
            return json_error(401, "Invalid API key: signature verification failed (forged or signed with another secret)")
        if "alg" in reason.lower():
            return json_error(401, "Invalid API key: only HS256-signed keys are accepted")
        return json_error(401, f"Malformed API key: {reason}")

    @jwt.expired_token_loader
    def _expired(_header, _payload):
        return json_error(401, "API key has expired")

    @jwt.revoked_token_loader
    def _revoked(_header, _payload):
        return json_error(401, "API key has been revoked")

    @jwt.token_in_blocklist_loader
    def _is_revoked(_header, payload: dict[str, Any]) -> bool:
        # Runs on every request, so revocation takes effect on the very next call.
        key = _load_key(payload)
        return key is None


KEY_CACHE = "cd:apikey:"
TOUCH_MARK = "cd:apikey-touch:"
KEY_CACHE_TTL = 300


@dataclass(frozen=True)
class KeyRecord:
    """What authentication needs of an API key; cached in Redis so requests skip a database read."""

    id: str
    user_id: str
    org_id: str | None
    key_hash: str
    expires_at: float | None
    revoked: bool

    def dumps(self) -> str:
        return json.dumps([self.id, self.user_id, self.org_id, self.key_hash, self.expires_at, self.revoked])

    @classmethod
    def loads(cls, raw: bytes) -> "KeyRecord":
        return cls(*json.loads(raw))

    @classmethod
    def of(cls, row: ApiKey) -> "KeyRecord":
        return cls(row.id, row.user_id, row.org_id, row.key_hash,
                   row.expires_at.timestamp() if row.expires_at else None, row.revoked_at is not None)


def forget_key(key_id: str) -> None:
    """After a revocation commits: replace the cached record so the very next request sees it.

    A plain SET overwrites any cached copy; requests populate the cache with SET NX, so a read that
    raced the revocation cannot put a stale "valid" record back."""
    from .queue import redis_connection
    record = KeyRecord(key_id, "", None, "", None, True)
    redis_connection().set(KEY_CACHE + key_id, record.dumps(), ex=KEY_CACHE_TTL)


def _key_record(key_id: str) -> tuple[KeyRecord | None, bool]:
    """(record, due for a last-used write), with one Redis round trip in the common case."""
    from .queue import redis_connection
    conn = redis_connection()
    interval = current_app.config["API_KEY_TOUCH_INTERVAL"]
    pipe = conn.pipeline(transaction=False)
    pipe.get(KEY_CACHE + key_id)
    if interval > 0:
        pipe.set(TOUCH_MARK + key_id, b"1", nx=True, ex=interval)
    replies = pipe.execute()
    due = bool(replies[1]) if interval > 0 else True
    if replies[0] is not None:
        return KeyRecord.loads(replies[0]), due
    row = db.session.get(ApiKey, key_id)
    if row is None:
        return None, False
    record = KeyRecord.of(row)
    conn.set(KEY_CACHE + key_id, record.dumps(), ex=KEY_CACHE_TTL, nx=True)
    return record, due


def _load_key(payload: dict[str, Any]) -> KeyRecord | None:
    key_id = payload.get("jti")
    if not key_id:
        return None
    key, due = _key_record(key_id)
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if key is None or key.revoked or not hmac.compare_digest(key.key_hash, hash_token(token)):
        return None
    if key.user_id != payload.get("user_id") or key.org_id != payload.get("org_id"):
        return None
    if key.expires_at is not None and key.expires_at <= time.time():
        return None
    if key.org_id and not db.session.scalar(
            sa.select(Membership.id).where(Membership.org_id == key.org_id, Membership.user_id == key.user_id)):
        return None  # no longer a member: the key no longer speaks for the organisation
    g.api_key = key
    g.api_key_touch = due
    return key


def api_auth(view: Callable) -> Callable:
    """Require a valid, unrevoked API key and set g.scope from its claims."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        claims = get_jwt()
        g.scope = Scope(user_id=claims["user_id"], org_id=claims.get("org_id"))
        if g.api_key_touch:
            # Coarse "last used" (once per API_KEY_TOUCH_INTERVAL) so hot paths do not write each time.
            db.session.execute(sa.update(ApiKey).where(ApiKey.id == g.api_key.id).values(last_used_at=utcnow()))
            db.session.commit()
        return view(*args, **kwargs)

    return wrapper


def current_scope() -> Scope:
    return g.scope


# ---- dashboard sessions -------------------------------------------------------------------------

def current_user() -> User | None:
    if "user" in g:
        return g.user
    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if user_id else None
    g.user = user
    return user


def page_scope() -> Scope:
    """Scope of the logged-in dashboard user: the organisation chosen in the switcher, if any."""
    user = current_user()
    if user is None:
        raise Unauthorized("Log in first")
    org_id = session.get("org_id")
    if org_id and not db.session.scalar(
            sa.select(Membership.id).where(Membership.org_id == org_id, Membership.user_id == user.id)):
        session.pop("org_id", None)
        org_id = None
    return Scope(user_id=user.id, org_id=org_id)


def login_required(view: Callable) -> Callable:
    """Send anonymous visitors to the login page and back here afterwards."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper
