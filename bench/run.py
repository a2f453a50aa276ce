"""Benchmarks of the hot paths in the production shape on this machine.

    make bench            (or: .venv/bin/python bench/run.py [--quick])

Starts PostgreSQL-backed gunicorn (config in bench/gunicorn_conf.py), Redis, an RQ worker and a
simulated machine; drives each hot path with wrk at concurrency 1, 16 and 64 next to a bare Flask
endpoint under the same gunicorn config (the HTTP floor) and reference probes on that app (the least
work each path cannot avoid, drivers called directly); measures dispatch latency against RQ's own
no-op latency, list/poll latency at 10k and 1M runs, and peak RSS. Prints figures and writes
bench/out/results.json. Needs: wrk (apt-get install wrk), PostgreSQL on 127.0.0.1:5432 (user
postgres, trust), Redis on 127.0.0.1:6379. Uses the database comfydeploy_bench and Redis db 3."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "comfydeploy_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
APP_PORT, FLOOR_PORT = 5080, 5081
TRACE = ROOT.parent / "shared" / "reference" / "node-traces" / "success.json"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bench_env() -> dict[str, str]:
    storage = Path(tempfile.gettempdir()) / "comfydeploy-bench-storage"
    env = dict(os.environ)
    env.update({
        "COMFYDEPLOY_ENV": "production", "SECRET_KEY": "bench-secret-key-0123456789abcdef0123",
        "JWT_SECRET_KEY": "bench-jwt-secret-0123456789abcdef0123",
        "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{DB_NAME}", "REDIS_URL": REDIS_URL,
        "STORAGE_BACKEND": "local", "STORAGE_LOCAL_PATH": str(storage),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{APP_PORT}", "SESSION_COOKIE_SECURE": "0",
        # Rate limits stay on (their Redis round trip is part of the cost) but never trigger here.
        "RATE_LIMIT": "100000000/minute", "RUN_RATE_LIMIT": "100000000/minute",
        "API_KEY_TOUCH_INTERVAL": "60",
    })
    return env


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start_gunicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "bench" / "gunicorn_conf.py"), app],
                            cwd=ROOT, env={**env, "BENCH_BIND": f"127.0.0.1:{port}"}, start_new_session=True)
    wait_port(port)
    time.sleep(1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wrk(url: str, lines_file: Path | None, connections: int, seconds: int) -> dict:
    """Run wrk; returns requests/s and p50/p95/p99 in milliseconds."""
    threads = max(1, min(2, connections))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
           "-s", str(ROOT / "bench" / "wrk_requests.lua"), url, "--", str(lines_file), str(threads)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return {"rps": round(data["requests"] / (data["duration_us"] / 1e6), 1),
            "p50_ms": data["p50"] / 1000, "p95_ms": data["p95"] / 1000, "p99_ms": data["p99"] / 1000,
            "errors": data["socket_errors"] + data["non_2xx"], "requests": data["requests"]}


def write_lines(name: str, rows: list[tuple[str, str, str, str]]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.tsv"
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return path


def reset_database(env: dict[str, str]) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:  # for the floor app's /probe/* endpoints
        conn.execute("CREATE TABLE bench_probe (id text PRIMARY KEY, payload jsonb)")
        conn.execute("CREATE TABLE bench_probe_rows (id int PRIMARY KEY, progress int NOT NULL DEFAULT 0)")
        conn.execute("INSERT INTO bench_probe_rows (id) SELECT generate_series(0, 999)")
    import redis
    redis.Redis.from_url(REDIS_URL).flushdb()


def make_app(env):
    from comfydeploy import create_app
    return create_app(env=env)


def seed(app, machine_url: str) -> dict:
    """A user, an API key, a machine, a deployment, finished runs with outputs, and runs for callbacks."""
    from comfydeploy.auth import Scope
    from comfydeploy.extensions import db
    from comfydeploy.models import Run, RunOutput
    from comfydeploy.services import api_keys, deployments, machines, users, workflows
    from comfydeploy.models.base import new_id
    from comfydeploy.services.runs import cd_token
    import sqlalchemy as sa
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import sample_workflow_api
    with app.app_context():
        user = users.create_user("bench@example.com", "bench-password", "Bench")
        scope = Scope(user.id)
        _, token = api_keys.create_api_key(scope, "bench")
        machine = machines.create_machine(scope, name="sim", endpoint=machine_url)
        version = workflows.push_workflow(scope, sample_workflow_api(), {"nodes": []}, None, workflow_name="bench")
        deployment, _ = deployments.upsert_deployment(scope, version.id, machine.id, "production")
        now = datetime.now(timezone.utc)
        finished = []
        for i in range(100):
            run = Run(user_id=user.id, workflow_id=version.workflow_id, workflow_version_id=version.id,
                      deployment_id=deployment.id, machine_id=machine.id, status="success",
                      workflow_inputs={"prompt": "bench"}, callback_base_url=f"http://127.0.0.1:{APP_PORT}",
                      created_at=now - timedelta(seconds=300 - i), started_at=now, ended_at=now, dispatched_at=now)
            db.session.add(run)
            db.session.flush()
            db.session.add(RunOutput(run_id=run.id, kind="output", node_id="3", data={"images": [
                {"filename": "out.png", "subfolder": "", "type": "output", "url": None}]}))
            db.session.add(RunOutput(run_id=run.id, kind="timing", data=[{"id": "1", "time": 0.1}]))
            finished.append(run.id)
        # Dispatched, not yet started runs for the callback cells: each cell gets its own, so callbacks
        # meet live runs (a run's first callbacks start it, its last ones finish it) rather than replays.
        callback_runs = {}
        for cell, count in CALLBACK_RUNS.items():
            rows = [dict(id=new_id(), user_id=user.id, workflow_id=version.workflow_id,
                         workflow_version_id=version.id, deployment_id=deployment.id, machine_id=machine.id,
                         origin="api", status="not-started", workflow_inputs={"prompt": "bench"},
                         callback_base_url=f"http://127.0.0.1:{APP_PORT}", created_at=now, dispatched_at=now)
                    for _ in range(count)]
            db.session.execute(sa.insert(Run.__table__), rows)
            callback_runs[cell] = [row["id"] for row in rows]
        db.session.commit()
        tokens = {run_id: cd_token(run_id) for runs in callback_runs.values() for run_id in runs}
        return {"token": token, "deployment_id": deployment.id, "finished": finished, "callback_runs": callback_runs,
                "cd_tokens": tokens, "user_id": user.id, "workflow_id": version.workflow_id,
                "version_id": version.id, "machine_id": machine.id}


# Runs per callback cell (20 callbacks each): more than each cell sends at the throughput seen here.
CALLBACK_RUNS = {("update_run", 1): 300, ("update_run", 16): 800, ("update_run", 64): 800,
                 ("update_run_stream", 1): 800, ("update_run_stream", 16): 1600, ("update_run_stream", 64): 1600}


def callback_lines(data: dict, cell: tuple[str, int]) -> list[tuple[str, str, str, str]]:
    """The real node's 20 status callbacks of one successful run (node-traces/success.json), for each of
    the cell's runs."""
    trace = json.loads(TRACE.read_text())
    old = trace["request"]["body"]["prompt_id"]
    bodies = [json.dumps(c["json"]) for c in trace["callbacks"] if c["method"] == "POST"]
    rows = []
    for run_id in data["callback_runs"][cell]:
        for body in bodies:
            rows.append(("POST", "/api/update-run", f"Bearer {data['cd_tokens'][run_id]}", body.replace(old, run_id)))
    return rows


def peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def percentile(values: list[float], pct: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def dispatch_latency(app_url: str, token: str, deployment_id: str, sim, count: int) -> dict:
    """Time from POST /api/run returning to the machine receiving the run."""
    import requests
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    latencies = []
    for _ in range(count):
        response = session.post(f"{app_url}/api/run", json={"deployment_id": deployment_id})
        returned = time.time()
        run_id = response.json()["run_id"]
        deadline = time.monotonic() + 10
        while run_id not in sim.received and time.monotonic() < deadline:
            time.sleep(0.0005)
        latencies.append((sim.received[run_id] - returned) * 1000)
        time.sleep(0.02)
    return {"p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "count": len(latencies)}


def rq_noop_latency(env: dict[str, str], worker_class: str, count: int) -> dict:
    """RQ's own enqueue-to-start latency of a no-op job, with the given worker class."""
    import redis
    from rq import Queue
    conn = redis.Redis.from_url(REDIS_URL)
    queue = Queue("bench-noop", connection=conn)
    worker = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "-u", REDIS_URL, "-w", worker_class, "-q",
                               "bench-noop"], cwd=ROOT / "bench", env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    latencies = []
    try:
        for _ in range(count):
            job = queue.enqueue("noop_job.record_start", meta={"enqueued_at": time.time()})
            deadline = time.monotonic() + 10
            while job.get_status(refresh=True) not in ("finished", "failed") and time.monotonic() < deadline:
                time.sleep(0.001)
            latencies.append(job.return_value() * 1000)
            time.sleep(0.01)
    finally:
        stop(worker)
    return {"p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2)}


def grow_runs(env: dict[str, str], data: dict, total: int) -> None:
    """Bulk-insert runs of the bench user until it has `total` (SQL generate_series, fast)."""
    import psycopg
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        missing = total - have
        batch = 200_000
        while missing > 0:
            n = min(batch, missing)
            conn.execute("""
                INSERT INTO runs (id, user_id, workflow_id, workflow_version_id, deployment_id, machine_id, origin,
                                  status, workflow_inputs, expects_media, execution_done, dispatch_attempts,
                                  callback_base_url, created_at, started_at, ended_at, updated_at)
                SELECT gen_random_uuid()::text, %(user)s, %(workflow)s, %(version)s, %(deployment)s, %(machine)s,
                       'api', 'success', '{"prompt": "bench"}'::jsonb, false, true, 1, 'http://127.0.0.1',
                       now() - (g || ' seconds')::interval - interval '1 day', now() - interval '1 day',
                       now() - interval '1 day', now()
                FROM generate_series(1, %(n)s) AS g""",
                         {"user": data["user_id"], "workflow": data["workflow_id"], "version": data["version_id"],
                          "deployment": data["deployment_id"], "machine": data["machine_id"], "n": n})
            missing -= n
        # Settle the table as a long-lived one would be: vacuumed (visibility map, hint bits set) and
        # its pages checkpointed. Measured right after a bulk load, the cells met autovacuum and the
        # checkpoint of the new rows instead (one run: first-page list 188 req/s at 1M vs 468 at 10k).
        conn.execute("VACUUM (ANALYZE) runs")
        conn.execute("CHECKPOINT")


def list_poll_lines(env: dict[str, str], data: dict) -> tuple[Path, Path, Path]:
    import psycopg
    auth = f"Bearer {data['token']}"
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        # Finished runs only, at both sizes: the POST /api/run cells left thousands of never-dispatched
        # runs whose polls also count the runs queued ahead of them, which would make the two samples
        # different mixes rather than different table sizes.
        ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE status = 'success' ORDER BY random() LIMIT 2000")]
        total = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        middle = conn.execute("SELECT id FROM runs ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
                              (total // 2,)).fetchone()[0]
    poll = write_lines("poll", [("GET", f"/api/run?run_id={i}", auth, "") for i in ids])
    first = write_lines("list_first", [("GET", "/api/runs?limit=20", auth, "")])
    deep = write_lines("list_deep", [("GET", f"/api/runs?limit=20&cursor={middle}", auth, "")])
    return poll, first, deep


def explain(env: dict[str, str], data: dict) -> list[str]:
    """The plans of the list query, to show the index is used (no sequential scan)."""
    import psycopg
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute("""EXPLAIN SELECT * FROM runs WHERE user_id = %s AND org_id IS NULL
                               ORDER BY created_at DESC, id DESC LIMIT 21""", (data["user_id"],)).fetchall()
    return [r[0] for r in rows]


class RecordingMachine:
    """The simulated machine, noting when each run arrives."""

    def __init__(self):
        from comfydeploy.simulator import SimulatedMachine
        self.received: dict[str, float] = {}
        machine = SimulatedMachine(retry_delay=0.2)
        original = machine.accept

        def accept(data, authorization):
            self.received[data.get("prompt_id")] = time.time()
            return original(data, authorization)

        machine.accept = accept
        self.machine = machine.start()
        self.url = machine.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per measurement")
    parser.add_argument("--quick", action="store_true", help="short runs and 100k instead of 1M runs")
    parser.add_argument("--big", type=int, default=1_000_000, help="runs in the large list/poll measurement")
    parser.add_argument("--only", default="", help="comma-separated throughput paths to measure next to the floor "
                                                   "(get_run, update_run, update_run_stream, post_run); skips the rest")
    args = parser.parse_args()
    seconds = 3 if args.quick else args.seconds
    big = 100_000 if args.quick else args.big
    env = bench_env()
    os.environ.update({k: env[k] for k in ("COMFYDEPLOY_ENV", "SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL",
                                            "REDIS_URL")})
    results: dict = {"config": {"gunicorn": "2 workers x 4 threads (gthread)", "seconds": seconds, "cpus": os.cpu_count()}}
    log("resetting the bench database and Redis db")
    reset_database(env)
    sim = RecordingMachine()
    app = make_app(env)
    data = seed(app, sim.url)
    auth = f"Bearer {data['token']}"
    files = {
        "floor": write_lines("floor", [("GET", "/floor", "", "")]),
        **{name: write_lines(name, [(method, path, "", "{}" if method == "POST" else "")])
           for name, (method, path) in PROBES.items()},
        "get_run": write_lines("get_run", [("GET", f"/api/run?run_id={r}", auth, "") for r in data["finished"]]),
        **{cell: write_lines(f"{cell[0]}_c{cell[1]}", callback_lines(data, cell)) for cell in CALLBACK_RUNS},
        "post_run": write_lines("post_run", [("POST", "/api/run", auth,
                                              json.dumps({"deployment_id": data["deployment_id"],
                                                          "inputs": {"prompt": "bench", "steps": 4}}))]),
    }
    concurrency = (1, 16, 64)
    if args.only:
        quick_throughput(env, files, args.only.split(","), concurrency, seconds)
        sim.machine.stop()
        return

    # The floor is measured before and after the throughput cells; ratios use the higher of the two
    # (this machine's throughput drifts by tens of percent between minutes; the higher floor is the
    # conservative reference).
    log("HTTP floor (before): bare Flask endpoint under the same gunicorn config")
    results["floor_before"] = measure_floor(env, files, concurrency, seconds, probes=True)
    results["probes"] = results["floor_before"].pop("probes")

    log("platform: gunicorn wsgi:app on PostgreSQL + Redis (no RQ worker: POST /api/run jobs just queue up)")
    web = start_gunicorn("wsgi:app", APP_PORT, env)
    base = f"http://127.0.0.1:{APP_PORT}"
    for name in ("get_run", "update_run", "post_run"):
        results[name] = {}
        for c in concurrency:
            log(f"  {name} at concurrency {c}")
            results[name][c] = wrk(base, files.get((name, c)) or files[name], c, seconds)
    stop(web)

    log("callback ingestion with CALLBACK_PROCESSING=stream, then the consumer draining the backlog")
    stream_env = {**env, "CALLBACK_PROCESSING": "stream"}
    web = start_gunicorn("wsgi:app", APP_PORT, stream_env)
    results["update_run_stream"] = {c: wrk(base, files[("update_run_stream", c)], c, seconds) for c in concurrency}
    stop(web)
    import redis
    from comfydeploy.services.callback_stream import STREAM
    backlog = redis.Redis.from_url(REDIS_URL).xlen(STREAM)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "rq", "callbacks", "--burst"], cwd=ROOT,
                   env=stream_env, check=True, capture_output=True)
    elapsed = time.monotonic() - started
    results["stream_drain"] = {"callbacks": backlog, "seconds": round(elapsed, 2),
                               "per_second": round(backlog / elapsed, 1) if elapsed else None}

    log("HTTP floor (after)")
    results["floor_after"] = measure_floor(env, files, concurrency, seconds)
    results["floor"] = {c: max((results["floor_before"][c], results["floor_after"][c]), key=lambda m: m["rps"])
                        for c in concurrency}
    redis.Redis.from_url(REDIS_URL).flushdb()  # the POST /api/run cells left thousands of dispatch jobs
    web = start_gunicorn("wsgi:app", APP_PORT, env)

    log("dispatch latency: POST /api/run returning -> the machine receiving the run (SimpleWorker)")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "rq", "worker"], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    count = 60 if args.quick else 200
    results["dispatch"] = dispatch_latency(base, data["token"], data["deployment_id"], sim, count)
    # The machine is still running those runs and calling back: let it finish, so the list and poll
    # cells below measure the platform alone.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = sim.machine.queue_state()
        if not state["queue_running"] and not state["queue_pending"]:
            break
        time.sleep(0.5)
    time.sleep(2)
    results["rss_kb"] = {"web_workers": [peak_rss_kb(p) for p in children(web.pid)], "rq_worker": peak_rss_kb(worker.pid)}
    stop(worker)
    results["rq_noop"] = {"simple": rq_noop_latency(env, "rq.worker.SimpleWorker", count),
                          "fork": rq_noop_latency(env, "rq.worker.Worker", count)}

    for label, total in (("10k", 10_000), (f"{big // 1000}k" if big < 1_000_000 else "1M", big)):
        log(f"list and poll latency with {total} runs in PostgreSQL")
        grow_runs(env, data, total)
        poll, first, deep = list_poll_lines(env, data)
        results[f"runs_{label}"] = {
            "get_run": {c: wrk(base, poll, c, seconds) for c in (1, 16)},
            "list_first_page": {c: wrk(base, first, c, seconds) for c in (1, 16)},
            "list_deep_page": {c: wrk(base, deep, c, seconds) for c in (1, 16)},
        }
    results["list_plan"] = explain(env, data)
    results["rss_kb"]["web_workers_after_all"] = [peak_rss_kb(p) for p in children(web.pid)]
    stop(web)
    sim.machine.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report(results)


# Reference points served by the floor app: the least work a hot path cannot avoid (bench/floor_app.py).
PROBES = {"probe_redis": ("GET", "/probe/redis"), "probe_pg_insert": ("POST", "/probe/pg-insert"),
          "probe_pg_update": ("POST", "/probe/pg-update"), "probe_run_minimum": ("POST", "/probe/run-minimum")}


def measure_floor(env: dict[str, str], files: dict[str, Path], concurrency: tuple[int, ...], seconds: int,
                  probes: bool = False) -> dict:
    """The floor at each concurrency; with probes, also each /probe/* endpoint at concurrency 64."""
    floor = start_gunicorn("bench.floor_app:app", FLOOR_PORT, env)
    url = f"http://127.0.0.1:{FLOOR_PORT}"
    try:
        result = {c: wrk(url, files["floor"], c, seconds) for c in concurrency}
        if probes:
            result["probes"] = {name: wrk(url, files[name], 64, seconds) for name in PROBES}
        return result
    finally:
        stop(floor)


def quick_throughput(env: dict[str, str], files: dict[str, Path], names: list[str], concurrency: tuple[int, ...],
                     seconds: int) -> None:
    """Only the floor and the named throughput paths (for profiling rounds); prints one line per cell."""
    floors = measure_floor(env, files, concurrency, seconds, probes=True)
    probes = floors.pop("probes")
    for c, m in floors.items():
        print(f"{'floor (before)':<20}{c:>5}{m['rps']:>10.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}", flush=True)
    for name, m in probes.items():
        print(f"{name:<20}{64:>5}{m['rps']:>10.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}"
              f"{m['rps'] / floors[64]['rps']:>8.0%}", flush=True)
    for name in names:
        stream = name == "update_run_stream"
        web = start_gunicorn("wsgi:app", APP_PORT, {**env, "CALLBACK_PROCESSING": "stream"} if stream else env)
        for c in concurrency:
            m = wrk(f"http://127.0.0.1:{APP_PORT}", files.get((name, c)) or files[name], c, seconds)
            print(f"{name:<20}{c:>5}{m['rps']:>10.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}"
                  f"{m['rps'] / floors[c]['rps']:>8.0%}{m['errors']:>8}", flush=True)
        stop(web)
    for c, m in measure_floor(env, files, concurrency, seconds).items():
        print(f"{'floor (after)':<20}{c:>5}{m['rps']:>10.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}", flush=True)


def report(r: dict) -> None:
    def ratio(name, c):
        return r[name][c]["rps"] / r["floor"][c]["rps"] if r["floor"][c]["rps"] else 0

    print("\nThroughput and latency (wrk; latency in ms; ratio = requests/s over the higher of the two floors)")
    print(f"{'path':<26}{'conc':>5}{'req/s':>10}{'p50':>8}{'p95':>8}{'p99':>8}{'ratio':>8}{'errors':>8}")
    for name, label in (("floor_before", "floor, before"), ("floor_after", "floor, after"),
                        ("update_run", "POST /api/update-run"),
                        ("update_run_stream", "  same, stream mode"), ("get_run", "GET /api/run"),
                        ("post_run", "POST /api/run")):
        for c, m in r[name].items():
            rat = "" if name.startswith("floor") else f"{ratio(name, c):.0%}"
            print(f"{label:<26}{c:>5}{m['rps']:>10.0f}{m['p50_ms']:>8.2f}{m['p95_ms']:>8.2f}{m['p99_ms']:>8.2f}"
                  f"{rat:>8}{m['errors']:>8}")
    print("\nReference points on the floor app (c=64; the least work each hot path cannot avoid, drivers called "
          "directly)")
    for name, m in r["probes"].items():
        print(f"  {name:<24}{m['rps']:>8.0f} req/s  p50 {m['p50_ms']:.2f} ms  {m['rps'] / r['floor'][64]['rps']:>5.0%} "
              f"of the floor")
    drain = r["stream_drain"]
    print(f"\nStream mode: one consumer applied {drain['callbacks']} queued callbacks in {drain['seconds']} s "
          f"({drain['per_second']}/s, the ones that change state; the rest need no work)")
    d, simple, fork = r["dispatch"], r["rq_noop"]["simple"], r["rq_noop"]["fork"]
    print(f"\nDispatch latency (POST /api/run returned -> machine received): p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms"
          f" over {d['count']} runs")
    print(f"RQ no-op enqueue-to-start: SimpleWorker p50 {simple['p50_ms']} ms p99 {simple['p99_ms']} ms; "
          f"forking Worker p50 {fork['p50_ms']} ms p99 {fork['p99_ms']} ms")
    sizes = [k for k in r if k.startswith("runs_")]
    print("\nPoll and list latency by table size (p50 / p99 ms at concurrency 1; req/s at 16)")
    for key in ("get_run", "list_first_page", "list_deep_page"):
        cells = "  ".join(f"{s[5:]}: {r[s][key][1]['p50_ms']:.2f}/{r[s][key][1]['p99_ms']:.2f} ms, "
                          f"{r[s][key][16]['rps']:.0f} req/s" for s in sizes)
        print(f"  {key:<18}{cells}")
    print("  list query plan:", " | ".join(line.strip() for line in r["list_plan"][:3]))
    rss = r["rss_kb"]
    print(f"\nPeak RSS: web workers {[round(x / 1024) for x in rss['web_workers_after_all']]} MB, "
          f"RQ worker {round(rss['rq_worker'] / 1024)} MB")
    small, large = sizes[0], sizes[-1]
    checks = [
        ("callback ingestion >= 50% of floor (c=64), inline", ratio("update_run", 64) >= 0.5,
         f"{ratio('update_run', 64):.0%}"),
        ("callback ingestion >= 50% of floor (c=64), stream mode", ratio("update_run_stream", 64) >= 0.5,
         f"{ratio('update_run_stream', 64):.0%}"),
        ("GET /api/run >= 40% of floor (c=64)", ratio("get_run", 64) >= 0.4, f"{ratio('get_run', 64):.0%}"),
        ("POST /api/run >= 25% of floor (c=64)", ratio("post_run", 64) >= 0.25, f"{ratio('post_run', 64):.0%}"),
        ("dispatch p50 <= 10 ms", d["p50_ms"] <= 10, f"{d['p50_ms']} ms"),
        ("dispatch p50 <= 3x no-op SimpleWorker p50", d["p50_ms"] <= 3 * simple["p50_ms"],
         f"{d['p50_ms'] / simple['p50_ms']:.1f}x"),
    ]
    for key in ("get_run", "list_first_page", "list_deep_page"):
        a, b = r[small][key][1]["p50_ms"], r[large][key][1]["p50_ms"]
        checks.append((f"{key} p50 at {large[5:]} <= 1.5x at {small[5:]}", b <= 1.5 * a, f"{b / a:.2f}x"))
    print("\nTargets")
    for label, ok, value in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {label}: {value}")


if __name__ == "__main__":
    main()
