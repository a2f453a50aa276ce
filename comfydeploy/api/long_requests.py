"""A cap on requests that stay open (event streams, wait mode) so they never starve the API.

gunicorn runs gthread workers: each open stream holds one thread of its process. At most
LONG_REQUESTS_PER_PROCESS of them run at once per process; the remaining threads keep serving
ordinary requests. Extra streams get 503 with Retry-After; extra waits answer 202 at once."""
from __future__ import annotations

import threading

from flask import current_app

_lock = threading.Lock()
_active = 0


def try_acquire() -> bool:
    """Take a slot if one is free."""
    global _active
    with _lock:
        if _active >= current_app.config["LONG_REQUESTS_PER_PROCESS"]:
            return False
        _active += 1
        return True


def release() -> None:
    global _active
    with _lock:
        _active = max(0, _active - 1)
