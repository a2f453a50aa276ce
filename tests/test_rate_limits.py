"""Per-API-key rate limits: syntax, headers, the extra POST /api/run limit, and startup validation."""
import pytest

from comfydeploy.rate_limits import parse_limit


@pytest.mark.parametrize("text, count, seconds", [
    ("1200/minute", 1200, 60), ("10 per second", 10, 1), ("100/5 minutes", 100, 300), ("3/Hour", 3, 3600),
    ("7 per 2 days", 7, 172800)])
def test_limit_syntax(text, count, seconds):
    limit = parse_limit(text)
    assert (limit.count, limit.seconds) == (count, seconds)


@pytest.mark.parametrize("text", ["", "fast", "0/minute", "10/fortnight", "minute/10"])
def test_bad_limit_syntax_says_what_is_accepted(text):
    with pytest.raises(ValueError, match="<count>/<unit>"):
        parse_limit(text)


def test_bad_limit_fails_at_startup():
    from comfydeploy import create_app
    from conftest import app_env
    with pytest.raises(ValueError, match="RATE_LIMIT|not of the form"):
        create_app(env=app_env(RATE_LIMIT="lots"))


def test_headers_count_down_and_429_says_when_to_retry(app, client, alice):
    app.config["RATE_LIMIT"] = "2/day"
    try:
        first = client.get("/machine", headers=alice.headers)
        second = client.get("/machine", headers=alice.headers)
        assert first.headers["X-RateLimit-Limit"] == "2"
        assert (first.headers["X-RateLimit-Remaining"], second.headers["X-RateLimit-Remaining"]) == ("1", "0")
        assert int(first.headers["X-RateLimit-Reset"]) % 86400 == 0
        limited = client.get("/machine", headers=alice.headers)
        body = limited.get_json()
        assert limited.status_code == 429 and body["code"] == 429 and "2/day" in body["message"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 86400
        assert limited.headers["X-RateLimit-Remaining"] == "0"
    finally:
        app.config["RATE_LIMIT"] = "1200/minute"


def test_run_limit_applies_to_post_run_only(app, client, alice, new_run):
    run_id, _ = new_run()
    app.config["RUN_RATE_LIMIT"] = "2/day"  # a new window length starts a new count
    try:
        deployment_id = client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()["deployment_id"]
        body = {"deployment_id": deployment_id}
        assert [client.post("/api/run", json=body, headers=alice.headers).status_code for _ in range(2)] == [200, 200]
        limited = client.post("/api/run", json=body, headers=alice.headers)
        assert limited.status_code == 429 and "2/day" in limited.get_json()["message"]
        # Other API calls of the same key only count against RATE_LIMIT.
        assert client.get(f"/api/run?run_id={run_id}", headers=alice.headers).status_code == 200
    finally:
        app.config["RUN_RATE_LIMIT"] = "300/minute"


def test_refused_keys_do_not_reach_the_view(client, alice):
    response = client.get("/machine", headers={"Authorization": "Bearer " + alice.token[:-2] + "xx"})
    assert response.status_code == 401 and "X-RateLimit-Limit" not in response.headers


def test_key_check_survives_a_redis_script_flush(app, client, alice):
    """The key check runs a Lua script by its hash; after SCRIPT FLUSH (or a Redis restart) it reloads it."""
    from comfydeploy.queue import redis_connection
    assert client.get("/machine", headers=alice.headers).status_code == 200
    with app.app_context():
        redis_connection().script_flush()
    response = client.get("/machine", headers=alice.headers)
    assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"]


def test_key_check_survives_a_dropped_redis_connection(app, client, alice):
    """Connections Redis closed (restart, idle timeout) are replaced, not surfaced as a 500."""
    from comfydeploy.queue import redis_connection
    assert client.get("/machine", headers=alice.headers).status_code == 200
    import redis
    with app.app_context():
        kwargs = redis_connection().connection_pool.connection_kwargs
        killer = redis.Redis(**{k: v for k, v in kwargs.items() if k in ("host", "port", "db", "path")}) \
            if "path" not in kwargs else redis.Redis(unix_socket_path=kwargs["path"])
        assert killer.client_kill_filter(_type="normal", skipme=True) >= 1  # every app connection
    assert client.get("/machine", headers=alice.headers).status_code == 200


def test_fast_commands_keep_a_bounded_set_of_connections(app):
    """The key check's connections: reused across threads, at most MAX kept idle, new after a fork."""
    import threading
    from comfydeploy import queue
    with app.app_context():
        client = queue.redis_connection()
        replies = []

        def work():
            for _ in range(20):
                replies.append(queue.fast_command(client, "PING"))

        threads = [threading.Thread(target=work) for _ in range(48)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fast = queue._fast_connections(client)
        assert len(replies) == 960 and set(replies) <= {b"PONG", "PONG", True}
        assert 0 < len(fast.idle) <= fast.MAX
        fast.pid = -1  # as a forked child sees its parent's set
        assert queue._fast_connections(client) is not fast and queue.fast_command(client, "PING")
