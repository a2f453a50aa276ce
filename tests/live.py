"""Real HTTP for end-to-end tests: the app served by a threaded werkzeug server, the simulated
machine, and an RQ worker running queued jobs in this process."""
from __future__ import annotations

import logging
import threading
import time

import requests
from werkzeug.serving import make_server

from comfydeploy.queue import ALL_QUEUES, redis_connection
from comfydeploy.worker_cli import AppSimpleWorker


class LiveServer:
    def __init__(self, app):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


def work(app, burst: bool = True) -> None:
    """Run every queued job (dispatches, polls, downloads) with a real RQ worker, then return."""
    with app.app_context():
        worker = AppSimpleWorker(list(ALL_QUEUES), connection=redis_connection(app))
        worker.work(burst=burst, logging_level="WARNING")


class Api:
    """A requests session against the live server with a tenant's key."""

    def __init__(self, base: str, headers: dict):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(headers)

    def __getattr__(self, method):
        return lambda path, **kw: self.session.request(method.upper(), self.base + path, timeout=30, **kw)


def setup_deployment(api: Api, machine_url: str, workflow_api: dict, workflow: dict | None = None,
                     machine_type: str = "classic", run_timeout: int | None = None) -> dict:
    machine = api.post("/machine", json={"name": "sim", "endpoint": machine_url, "type": machine_type}).json()
    pushed = api.post("/api/workflow", json={"workflow_name": "demo", "workflow_api": workflow_api,
                                             "workflow": workflow or {"nodes": []}}).json()
    body = {"workflow_version_id": pushed["workflow_version_id"], "machine_id": machine["id"],
            "environment": "production"}
    if run_timeout:
        body["run_timeout"] = run_timeout
    deployment = api.post("/deployment", json=body).json()
    return {"machine": machine, "workflow": pushed, "deployment": deployment}


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def wait_for_run(api: Api, run_id: str, statuses=("success", "failed", "cancelled", "timeout"),
                 timeout: float = 20.0) -> dict:
    def done():
        run = api.get(f"/api/run?run_id={run_id}").json()
        return run if run["status"] in statuses else None
    return wait_for(done, timeout)
