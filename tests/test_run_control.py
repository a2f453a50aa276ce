"""Run control over real HTTP: webhooks (a real receiver checking signatures), cancel, queue
position and ETA, per-machine concurrency, idempotency, wait mode, event streams, rate limits."""
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from comfydeploy.extensions import db
from comfydeploy.models import WebhookDelivery
from comfydeploy.queue import redis_connection
from comfydeploy.services import webhooks as webhook_service
from comfydeploy.worker_cli import AppSimpleWorker
from conftest import sample_workflow_api
from live import setup_deployment, wait_for, wait_for_run, work


def verify(secret: str, headers, body: bytes) -> bool:
    """Standard Webhooks verification, written from the spec (not from our code)."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    if abs(time.time() - int(timestamp)) > 300:
        return False
    return any(hmac.compare_digest(sig.split(",", 1)[1].encode(), expected)
               for sig in headers["webhook-signature"].split(" ") if sig.startswith("v1,"))


class Receiver:
    """A real webhook receiver: records each request, answers `codes` in turn (then 200)."""

    def __init__(self):
        self.requests = []
        self.codes = []
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.delay:
                    time.sleep(outer.delay)
                outer.requests.append({"headers": dict(self.headers.items()), "body": body,
                                       "json": json.loads(body)})
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self):
        return [r["json"]["type"] for r in self.requests]


@pytest.fixture
def receiver(app):
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = True
    server = Receiver()
    yield server
    server.server.shutdown()
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = False


def start(api, deployment_id, **body):
    response = api.post("/api/run", json={"deployment_id": deployment_id, **body})
    assert response.status_code == 200, response.text
    return response.json()["run_id"]


def headers_ci(headers):
    return {k.lower(): v for k, v in headers.items()}


def test_per_run_webhook_is_signed_and_complete(app, alice_api, sim, receiver):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    run_id = start(alice_api, setup["deployment"]["id"], webhook=receiver.url)
    work(app)
    wait_for_run(alice_api, run_id)
    work(app)  # deliveries
    secret = alice_api.get("/webhook/run-secret").json()["secret"]
    assert receiver.events() == ["run.started", "run.output", "run.succeeded"]  # a per-run webhook gets every event
    for request in receiver.requests:
        assert verify(secret, headers_ci(request["headers"]), request["body"])
        assert request["json"]["data"]["run_id"] == run_id
    succeeded = receiver.requests[-1]["json"]["data"]["run"]
    image = next(o for o in succeeded["outputs"] if isinstance(o["data"], dict) and "images" in o["data"])
    assert requests.get(image["data"]["images"][0]["url"], timeout=10).content.startswith(b"\x89PNG")
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers_ci(receiver.requests[0]["headers"]),
                      receiver.requests[0]["body"])


def test_endpoints_filter_events_and_log_attempts(app, alice_api, sim, receiver):
    failed_only = alice_api.post("/webhook", json={"url": receiver.url + "?only=failed", "events": ["run.failed"]})
    assert failed_only.status_code == 201
    everything = alice_api.post("/webhook", json={"url": receiver.url, "description": "all"}).json()
    assert everything["secret"].startswith("whsec_") and set(everything["events"]) >= {"run.output", "run.timeout"}
    assert "secret" not in alice_api.get("/webhook").json()[0]
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    run_id = start(alice_api, setup["deployment"]["id"])
    receiver.codes = [500, 503]  # the first two attempts fail
    work(app)
    wait_for_run(alice_api, run_id)
    work(app)
    deliveries = alice_api.get(f"/webhook/deliveries?run_id={run_id}").json()
    assert {d["event_type"] for d in deliveries} == {"run.started", "run.output", "run.succeeded"}
    assert all(d["endpoint_id"] == everything["id"] for d in deliveries)
    retrying = [d for d in deliveries if d["status"] == "pending"]
    assert retrying and all(d["next_attempt_at"] for d in retrying)
    # The backoff delay has passed: run the retries as the scheduler would.
    with app.app_context():
        for delivery in retrying:
            while webhook_service.deliver(delivery["id"]) == "retrying":
                pass
    deliveries = alice_api.get(f"/webhook/deliveries?run_id={run_id}").json()
    assert {d["status"] for d in deliveries} == {"succeeded"}
    log = [a for d in deliveries for a in d["attempt_log"]]
    assert sorted(a["status_code"] for a in log) == [200, 200, 200, 500, 503]
    assert all(a["latency_ms"] is not None for a in log)
    assert [a["error"] for a in log if a["status_code"] == 500] == ["receiver answered 500"]
    for request in receiver.requests:
        assert verify(everything["secret"], headers_ci(request["headers"]), request["body"])
    # The same event retried keeps its webhook-id, so receivers can de-duplicate.
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(set(ids)) == 3


def test_retries_are_bounded_redelivery_and_rotation(app, alice_api, sim, receiver):
    app.config["WEBHOOK_RETRY_DELAYS"] = [0, 0]
    try:
        endpoint = alice_api.post("/webhook", json={"url": receiver.url, "events": ["run.succeeded"]}).json()
        setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
        receiver.codes = [500] * 10
        run_id = start(alice_api, setup["deployment"]["id"])
        work(app)
        wait_for_run(alice_api, run_id)
        work(app)
        with app.app_context():
            delivery_id = db.session.scalar(db.select(WebhookDelivery.id))
            while webhook_service.deliver(delivery_id) == "retrying":
                pass
        delivery = alice_api.get("/webhook/deliveries").json()[0]
        assert delivery["status"] == "failed" and delivery["attempts"] == 3
        rotated = alice_api.post(f"/webhook/{endpoint['id']}/rotate-secret").json()
        assert rotated["secret"] != endpoint["secret"]
        receiver.codes = []
        assert alice_api.post(f"/webhook/deliveries/{delivery_id}/redeliver").status_code == 202
        work(app)
        delivery = alice_api.get("/webhook/deliveries").json()[0]
        assert delivery["status"] == "succeeded" and delivery["attempts"] == 4
        assert verify(rotated["secret"], headers_ci(receiver.requests[-1]["headers"]), receiver.requests[-1]["body"])
        assert not verify(endpoint["secret"], headers_ci(receiver.requests[-1]["headers"]), receiver.requests[-1]["body"])
    finally:
        app.config["WEBHOOK_RETRY_DELAYS"] = [5, 30, 120, 600, 1800, 3600]


def test_slow_receiver_does_not_slow_runs(app, alice_api, sim, receiver):
    receiver.delay = 3
    alice_api.post("/webhook", json={"url": receiver.url})
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    run_id = start(alice_api, setup["deployment"]["id"])
    started = time.monotonic()
    with app.app_context():  # a run worker without the webhooks queue, as `flask rq worker` runs it
        AppSimpleWorker(["runs", "default"], connection=redis_connection(app)).work(burst=True)
    assert wait_for_run(alice_api, run_id)["status"] == "success"
    assert time.monotonic() - started < 3
    assert {d["status"] for d in alice_api.get("/webhook/deliveries").json()} == {"pending"}


def test_webhook_validation(app, alice_api):
    assert alice_api.post("/webhook", json={"url": "ftp://x"}).status_code == 422
    assert alice_api.post("/webhook", json={"url": "https://example.com", "events": ["run.exploded"]}).status_code == 422
    private = alice_api.post("/webhook", json={"url": "http://127.0.0.1:9/hook"})
    assert private.status_code == 422 and "private" in private.json()["message"]


def test_cancel_queued_running_and_finished(app, alice_api, sim):
    sim.node_delay = 0.5
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    deployment_id = setup["deployment"]["id"]
    queued = start(alice_api, deployment_id)
    cancelled = alice_api.post(f"/api/run/{queued}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert alice_api.post(f"/api/run/{queued}/cancel").status_code == 200  # idempotent
    running = start(alice_api, deployment_id)
    work(app)
    assert len(sim.dispatches) == 1  # the cancelled one was never sent
    wait_for(lambda: alice_api.get(f"/api/run?run_id={running}").json()["status"] == "running")
    assert alice_api.post(f"/api/run/{running}/cancel").json()["status"] == "cancelled"
    work(app)  # the interrupt reaches the machine
    wait_for(lambda: any((c.get("body") or {}).get("ws_event", {}).get("event") == "execution_interrupted"
                         for c in sim.callbacks))
    run = alice_api.get(f"/api/run?run_id={running}").json()
    assert run["status"] == "cancelled" and run["error"] == "Cancelled by request"
    finished = start(alice_api, deployment_id)
    sim.node_delay = 0
    work(app)
    wait_for_run(alice_api, finished)
    response = alice_api.post(f"/api/run/{finished}/cancel")
    assert response.status_code == 409 and "already ended" in response.json()["message"]
    assert alice_api.post("/api/run/nope/cancel").status_code == 404


def test_machine_concurrency_queue_position_and_eta(app, alice_api, sim):
    sim.node_delay = 0.3
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    alice_api.put(f"/machine/{setup['machine']['id']}", json={"max_concurrency": 1})
    deployment_id = setup["deployment"]["id"]
    history = start(alice_api, deployment_id)  # one finished run gives the ETA its average
    work(app)
    assert wait_for_run(alice_api, history)["status"] == "success"
    runs = [start(alice_api, deployment_id) for _ in range(3)]
    work(app)
    assert len(sim.dispatches) == 2  # the history run + only one of the three: a single slot
    wait_for(lambda: alice_api.get(f"/api/run?run_id={runs[0]}").json()["status"] == "running")
    views = [alice_api.get(f"/api/run?run_id={r}").json() for r in runs]
    assert views[0]["queue_position"] is None and views[0]["estimated_finish_at"]
    assert [v["queue_position"] for v in views[1:]] == [1, 2]
    assert views[1]["estimated_start_at"] < views[2]["estimated_start_at"]
    assert views[2]["estimated_finish_at"] > views[2]["estimated_start_at"]
    assert views[1]["average_duration"] > 0.5  # three nodes of 0.3 s each
    for _ in range(3):  # each finished run frees the slot for the next, in order
        wait_for(lambda: len([r for r in runs if alice_api.get(f"/api/run?run_id={r}").json()["status"] == "success"])
                 >= len(sim.dispatches) - 1, timeout=30)
        work(app)
    finals = [wait_for_run(alice_api, r, timeout=30) for r in runs]
    assert [f["status"] for f in finals] == ["success"] * 3
    assert [d["prompt_id"] for d in sim.dispatches[1:]] == runs  # dispatched in arrival order
    assert finals[0]["ended_at"] <= finals[1]["started_at"] and finals[1]["ended_at"] <= finals[2]["started_at"]


def test_idempotency_key(app, alice_api, sim):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api())
    body = {"deployment_id": setup["deployment"]["id"], "inputs": {"prompt": "x"}}
    first = alice_api.post("/api/run", json=body, headers={"Idempotency-Key": "order-42"})
    again = alice_api.post("/api/run", json=body, headers={"Idempotency-Key": "order-42"})
    assert first.json()["run_id"] == again.json()["run_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = alice_api.post("/api/run", json={**body, "inputs": {"prompt": "y"}}, headers={"Idempotency-Key": "order-42"})
    assert other.status_code == 422 and "different request body" in other.json()["message"]
    plain = [alice_api.post("/api/run", json=body).json()["run_id"] for _ in range(2)]
    assert plain[0] != plain[1]
    assert len(alice_api.get("/api/runs").json()["items"]) == 3


def test_wait_mode(app, live, alice_api, sim):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    deployment_id = setup["deployment"]["id"]
    result = {}

    def call():
        result["response"] = alice_api.post("/api/run?wait=20", json={"deployment_id": deployment_id})

    thread = threading.Thread(target=call)
    thread.start()
    wait_for(lambda: len(alice_api.get("/api/runs").json()["items"]) == 1)
    work(app)
    thread.join(30)
    response = result["response"]
    assert response.status_code == 200 and response.json()["status"] == "success"
    assert any(isinstance(o["data"], dict) and "images" in o["data"] for o in response.json()["outputs"])
    slow = alice_api.post("/api/run?wait=1", json={"deployment_id": deployment_id})
    assert slow.status_code == 202 and slow.json()["status"] == "not-started"
    assert alice_api.post("/api/run?wait=301", json={"deployment_id": deployment_id}).status_code == 422


def read_events(response):
    events, current = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if "event" in current:
                events.append(current)
            current = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(": ")
        current[field] = value
    return events


def test_event_stream_resumes_without_loss_or_repeat(app, alice_api, sim):
    sim.node_delay = 0.1
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api())
    run_id = start(alice_api, setup["deployment"]["id"])
    work(app)
    wait_for_run(alice_api, run_id)
    full = read_events(alice_api.get(f"/api/run/{run_id}/events", stream=True))
    assert full[-1]["event"] == "end"
    events = full[:-1]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    types = {e["event"] for e in events}
    assert {"status", "progress", "output"} <= types
    assert json.loads(events[-1]["data"])["status"] == "success" or "success" in [
        json.loads(e["data"]).get("status") for e in events if e["event"] == "status"]
    middle = ids[len(ids) // 2]
    resumed = read_events(alice_api.get(f"/api/run/{run_id}/events", stream=True,
                                        headers={"Last-Event-ID": str(middle)}))[:-1]
    assert [int(e["id"]) for e in resumed] == [i for i in ids if i > middle]


def test_event_stream_follows_a_live_run(app, alice_api, sim):
    sim.node_delay = 0.3
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    run_id = start(alice_api, setup["deployment"]["id"])
    collected = {}

    def listen():
        collected["events"] = read_events(alice_api.get(f"/api/run/{run_id}/events", stream=True))

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(0.3)
    work(app)
    thread.join(30)
    statuses = [json.loads(e["data"])["status"] for e in collected["events"] if e["event"] == "status"]
    assert statuses == ["running", "success"]
    progress = [json.loads(e["data"])["progress"] for e in collected["events"] if e["event"] == "progress"]
    assert progress == sorted(progress) and len(progress) >= 2


def test_long_request_cap(app, alice_api, sim):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    run_id = start(alice_api, setup["deployment"]["id"])
    app.config["LONG_REQUESTS_PER_PROCESS"] = 0
    try:
        stream = alice_api.get(f"/api/run/{run_id}/events")
        assert stream.status_code == 503 and stream.headers["Retry-After"] == "2"
        waited = alice_api.post("/api/run?wait=30", json={"deployment_id": setup["deployment"]["id"]})
        assert waited.status_code == 202
    finally:
        app.config["LONG_REQUESTS_PER_PROCESS"] = 4


def test_rate_limit_per_key(app, alice_api, bob, live):
    from live import Api
    app.config["RATE_LIMIT"] = "3/day"  # a day: the window cannot roll over mid-test
    try:
        codes = [alice_api.get("/machine").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = alice_api.get("/machine")
        assert limited.json()["code"] == 429 and int(limited.headers["Retry-After"]) >= 1
        assert Api(live.url, bob.headers).get("/machine").status_code == 200  # other keys are unaffected
        # Machine callbacks are never limited by API-key rules.
        assert requests.post(f"{live.url}/api/update-run", json={"run_id": None}, timeout=10).status_code == 200
    finally:
        app.config["RATE_LIMIT"] = "1200/minute"


def test_queue_ttl_on_deployment(app, alice_api, sim):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    deployment = alice_api.put(f"/deployment/{setup['deployment']['id']}", json={"queue_ttl": 1}).json()
    assert deployment["queue_ttl"] == 1
    run_id = start(alice_api, deployment["id"])
    time.sleep(1.1)
    with app.app_context():
        from comfydeploy.services.machine_health import expire_overdue_runs
        assert expire_overdue_runs() == 1
    work(app)
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "timeout" and "queue time-to-live" in run["error"]
    assert sim.dispatches == []


def test_webhook_trigger_reaches_only_the_runs_scope(app, alice, bob, acme, new_run):
    """The run and its scope's endpoints come from one join: only enabled endpoints of the run's own
    scope that asked for the event get a delivery."""
    from comfydeploy.models import WebhookEndpoint
    run_id, _ = new_run()  # in Alice's personal scope
    with app.app_context():
        def endpoint(tenant, events, enabled=True):
            row = WebhookEndpoint(user_id=tenant.user_id, org_id=tenant.org_id, url="https://hooks.example.com/in",
                                  events=events, secret="whsec_test", enabled=enabled)
            db.session.add(row)
            return row
        mine = endpoint(alice, ["run.started", "run.failed"])
        endpoint(alice, ["run.started"], enabled=False)
        endpoint(alice, ["run.failed"])
        endpoint(bob, ["run.started"])
        endpoint(acme, ["run.started"])  # Alice's organisation is another scope
        db.session.commit()
        mine_id = mine.id
        assert len(webhook_service.trigger(run_id, "run.started")) == 1
        assert db.session.scalars(db.select(WebhookDelivery.endpoint_id)
                                  .where(WebhookDelivery.run_id == run_id)).all() == [mine_id]
