"""gunicorn settings the benchmark uses for both the platform and the floor app (2 cores)."""
import os

bind = os.environ.get("BENCH_BIND", "127.0.0.1:5080")
# One process per core; threads cover the time each request waits on PostgreSQL and Redis.
workers = int(os.environ.get("BENCH_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("BENCH_THREADS", "4"))
backlog = 2048
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = "warning"
