"""The HTTP floor: a bare Flask endpoint that does no work, served with the same gunicorn config.

The /probe/* endpoints are reference points for the ratios: the least work each hot path cannot
avoid, done with the drivers directly (no auth, no validation, no ORM). Their ratio to the floor is
a ceiling for the real path on this machine: one Redis round trip (what an API-key check costs at
least), one durable single-row INSERT or UPDATE on PostgreSQL (what creating a run or applying a
callback costs at least), and the three a run's creation cannot do without together (a Redis
round trip for the key check, the durable INSERT, a Redis push for its dispatch)."""
import os
import threading
import uuid

from flask import Flask

app = Flask(__name__)
_local = threading.local()


@app.route("/floor", methods=["GET", "POST"])
def floor():
    """Answer at once."""
    return {"ok": True}


def _pg():
    conn = getattr(_local, "pg", None)
    if conn is None:
        import psycopg
        conn = _local.pg = psycopg.connect(os.environ["DATABASE_URL"].replace("postgresql+psycopg", "postgresql"),
                                           autocommit=True)
    return conn


def _redis():
    conn = getattr(_local, "redis", None)
    if conn is None:
        import redis
        conn = _local.redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return conn


@app.route("/probe/redis", methods=["GET", "POST"])
def probe_redis():
    """One Redis round trip."""
    return {"ok": _redis().get("probe") is None}


@app.route("/probe/pg-insert", methods=["POST"])
def probe_pg_insert():
    """One durable INSERT (autocommit) into a table with only a primary key."""
    _pg().execute("INSERT INTO bench_probe (id, payload) VALUES (%s, %s)", (str(uuid.uuid4()), '{"prompt": "x"}'))
    return {"ok": True}


@app.route("/probe/pg-update", methods=["POST"])
def probe_pg_update():
    """One durable single-row UPDATE (autocommit) by primary key."""
    _pg().execute("UPDATE bench_probe_rows SET progress = progress + 1 WHERE id = %s",
                  (int.from_bytes(os.urandom(2), "big") % 1000,))
    return {"ok": True}


@app.route("/probe/run-minimum", methods=["POST"])
def probe_run_minimum():
    """What creating a run cannot do without: a Redis read (key check), a durable INSERT, a Redis push."""
    _redis().get("probe")
    run_id = str(uuid.uuid4())
    _pg().execute("INSERT INTO bench_probe (id, payload) VALUES (%s, %s)", (run_id, '{"prompt": "x"}'))
    _redis().rpush("probe:queue", run_id)
    return {"run_id": run_id}
