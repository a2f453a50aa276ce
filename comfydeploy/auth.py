"""Who is calling: API keys (revocable HS256 JWTs) for the API, the session cookie for pages."""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app, g, redirect, request, session, url_for

from .errors import AppError, Unauthorized
from .extensions import db
from .models import ApiKey, Membership, User
from .models.base import utcnow
from .rate_limits import counter_keys, evaluate, limits_for_request


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

    @staticmethod
    def bound_where(columns: Any, org_scope: bool) -> sa.ColumnElement[bool]:
        """`where` with bind parameters :user_id and :org_id, for statements built once and reused."""
        if org_scope:
            return columns.org_id == sa.bindparam("org_id")
        return sa.and_(columns.user_id == sa.bindparam("user_id"), columns.org_id.is_(None))

    @staticmethod
    def same_tenant(owned: Any, owner: Any) -> sa.ColumnElement[bool]:
        """Join condition: rows of `owned` (columns) in the same scope as the row of `owner`: its
        organisation's when it has one, else the same user's personal ones."""
        return sa.or_(sa.and_(owner.org_id.is_not(None), owned.org_id == owner.org_id),
                      sa.and_(owner.org_id.is_(None), owned.org_id.is_(None), owned.user_id == owner.user_id))

    def owns(self, row: Any) -> bool:
        if self.org_id:
            return row.org_id == self.org_id
        return row.user_id == self.user_id and row.org_id is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def configure_jwt(app) -> None:
    """flask-jwt-extended issues the keys; decode_api_key checks them (so no decode-side settings)."""
    app.config.update(
        JWT_TOKEN_LOCATION=["headers"],  # keys travel in headers only: no csrf claim in them
        JWT_IDENTITY_CLAIM="user_id",
        JWT_ALGORITHM="HS256",
        JWT_ACCESS_TOKEN_EXPIRES=False,
    )


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


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode_api_key(token: str, secret: str) -> dict[str, Any]:
    """The claims of an HS256 API key whose signature and expiry hold; Unauthorized says what is wrong.

    The same checks flask-jwt-extended makes, without its per-request machinery: this runs on every
    API call, and the key's stored hash is compared afterwards anyway."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized("Malformed API key: expected a JWT of three dot-separated segments")
    try:
        header = json.loads(_b64decode(parts[0]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error):
        raise Unauthorized("Malformed API key: its header or signature is not valid base64url JSON")
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise Unauthorized("Invalid API key: only HS256-signed keys are accepted")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise Unauthorized("Invalid API key: signature verification failed (forged or signed with another secret)")
    try:
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, binascii.Error):
        raise Unauthorized("Malformed API key: its claims are not valid base64url JSON")
    if not isinstance(claims, dict) or not isinstance(claims.get("user_id"), str) or not claims.get("jti"):
        raise Unauthorized("Malformed API key: user_id or jti claim missing")
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and (not isinstance(exp, (int, float)) or exp <= now):
        raise Unauthorized("API key has expired")
    if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > now + 5):  # 5 s for clock skew
        raise Unauthorized("API key is not valid yet (nbf is in the future)")
    return claims


# Redis keys an endpoint will read anyway, fetched in the same round trip as the API key (by
# (method, endpoint); the function gets the request and returns the keys). Replies land in g.prefetched.
PREFETCH: dict[tuple[str, str], Callable[[Any], list[str]]] = {}


# One Redis command for everything an API-key request needs (a Lua script rather than a pipeline:
# packing and parsing one command costs the web process far less CPU than six). KEYS: the cached
# key record, the last-used mark, the rate-limit counters, then prefetched keys. ARGV: the mark's
# interval (0 = always due), the number of counters, each counter's lifetime.
KEY_STATE_SCRIPT = """
local out = {redis.call('GET', KEYS[1]) or false}
local interval = tonumber(ARGV[1])
if interval > 0 then
  out[2] = redis.call('SET', KEYS[2], '1', 'NX', 'EX', interval) and 1 or 0
else
  out[2] = 1
end
local counters = tonumber(ARGV[2])
for i = 1, counters do
  out[2 + i] = redis.call('INCR', KEYS[2 + i])
  redis.call('EXPIRE', KEYS[2 + i], ARGV[2 + i])
end
for j = 3 + counters, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[j]) or false
end
return out
"""


def _key_state(key_id: str, limits: list, now: float) -> tuple[KeyRecord | None, bool, list[int]]:
    """(record, due for a last-used write, rate-limit counts) in one Redis round trip; also fetches the
    endpoint's PREFETCH keys into g.prefetched."""
    from .queue import redis_connection, run_script
    conn = redis_connection()
    interval = current_app.config["API_KEY_TOUCH_INTERVAL"]
    prefetch = PREFETCH.get((request.method, request.endpoint))
    extra = prefetch(request) if prefetch is not None else []
    counters = counter_keys(key_id, limits, now)
    script = current_app.extensions.get("cd_key_state_script")
    if script is None:
        script = current_app.extensions["cd_key_state_script"] = conn.register_script(KEY_STATE_SCRIPT)
    replies = run_script(conn, script, [KEY_CACHE + key_id, TOUCH_MARK + key_id, *(k for k, _ in counters), *extra],
                         [max(0, interval), len(counters), *(ttl for _, ttl in counters)])
    counts = [int(c) for c in replies[2:2 + len(counters)]]
    if extra:
        g.prefetched = dict(zip(extra, replies[2 + len(counters):]))
    due = bool(replies[1])
    cached = replies[0]
    if cached is not None:
        return KeyRecord.loads(cached), due, counts
    row = db.session.get(ApiKey, key_id)
    if row is None:
        return None, False, counts
    record = KeyRecord.of(row)
    conn.set(KEY_CACHE + key_id, record.dumps(), ex=KEY_CACHE_TTL, nx=True)
    return record, due, counts


def authenticate_api_request() -> KeyRecord:
    """Check the request's API key (signature, expiry, stored hash, revocation, membership) and its
    rate limits; sets g.api_key, g.scope and g.rate_limit. Raises Unauthorized or a 429 AppError."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Missing or unusable Authorization header: send 'Authorization: Bearer <api key>'")
    claims = decode_api_key(token, current_app.config["JWT_SECRET_KEY"])
    limits = limits_for_request()
    now = time.time()  # one instant for the windows counted and the limit state derived from them
    key, due, counters = _key_state(str(claims["jti"]), limits, now)
    if key is None or key.revoked or not hmac.compare_digest(key.key_hash, hash_token(token)):
        raise Unauthorized("API key has been revoked")
    if key.user_id != claims["user_id"] or key.org_id != claims.get("org_id"):
        raise Unauthorized("API key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("API key has expired")
    if key.org_id and not db.session.scalar(
            sa.select(Membership.id).where(Membership.org_id == key.org_id, Membership.user_id == key.user_id)):
        raise Unauthorized("API key no longer speaks for its organisation: its owner is not a member any more")
    state = evaluate(limits, counters, now)
    g.rate_limit = state
    if state.exceeded:
        raise AppError(f"Rate limit exceeded ({state.limit.text} per API key); slow down and retry after the "
                       f"Retry-After delay", status_code=429,
                       headers={**state.headers(), "Retry-After": str(state.retry_after(now))})
    g.api_key = key
    g.scope = Scope(user_id=key.user_id, org_id=key.org_id)
    if due:
        # Coarse "last used" (once per API_KEY_TOUCH_INTERVAL) so hot paths do not write each time.
        db.session.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))
        db.session.commit()
    return key


def api_auth(view: Callable) -> Callable:
    """Require a valid, unrevoked API key within its rate limits; sets g.scope from it."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        authenticate_api_request()
        response = current_app.make_response(view(*args, **kwargs))
        response.headers.update(g.rate_limit.headers())
        return response

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
