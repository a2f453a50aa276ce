"""The base URL machines and clients should use to reach this platform."""
from __future__ import annotations

from flask import current_app, request


def public_base_url() -> str:
    """PUBLIC_BASE_URL when set, else the base URL of the current request."""
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
