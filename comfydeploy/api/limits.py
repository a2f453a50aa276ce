"""Per-API-key rate limits (flask-limiter): 429 with Retry-After, counted in Redis when REDIS_URL
is set (shared by every process), else in process memory."""
from __future__ import annotations

import hashlib
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter

from ..errors import is_api_request, json_error

# Machine callbacks and signed storage URLs are not API-key traffic.
UNLIMITED_PATHS = ("/api/update-run", "/api/file-upload", "/api/auth-response", "/api/doc")


def api_key_identity() -> str:
    """Limits apply per API key: a hash of the bearer token (no database read needed)."""
    header = request.headers.get("Authorization", "")
    return "key:" + hashlib.sha256(header.encode()).hexdigest()[:32]


def _exempt() -> bool:
    if not is_api_request() or request.method == "OPTIONS" or request.path.startswith(UNLIMITED_PATHS):
        return True
    return not request.headers.get("Authorization", "").lower().startswith("bearer ")


def default_limit() -> str:
    return current_app.config["RATE_LIMIT"]


def run_limit() -> str:
    return current_app.config["RUN_RATE_LIMIT"]


limiter = Limiter(key_func=api_key_identity, default_limits=[default_limit], headers_enabled=True,
                  strategy="fixed-window")  # one cheap INCR per request
# A request filter is checked before any limit is resolved: exempt traffic costs next to nothing.
limiter.request_filter(_exempt)


def init_limits(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        # "unix:///path" (embedded Redis started by `flask up`) is "redis+unix:///path" for limits.
        app.config.setdefault("RATELIMIT_STORAGE_URI", "redis+unix://" + url[len("unix://"):]
                              if url.startswith("unix://") else url)
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    # flask-limiter would put Retry-After on every response; keep that header for 429 (and 503) only.
    app.config.setdefault("RATELIMIT_HEADER_RETRY_AFTER", "X-RateLimit-Retry-After")
    limiter.init_app(app)

    @app.errorhandler(429)
    def _too_many(exc):
        response = json_error(429, f"Rate limit exceeded ({exc.description}); slow down and retry after the "
                                   f"Retry-After delay")
        current_limit = limiter.current_limit
        retry_after = max(1, int(current_limit.reset_at - time.time())) if current_limit is not None else 1
        response.headers["Retry-After"] = str(retry_after)
        return response
