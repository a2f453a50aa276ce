"""Input uploads (presigned and multipart), model downloads, and machine health polls."""
import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from comfydeploy.extensions import db
from comfydeploy.models import Machine
from live import work


def test_upload_url_validates_and_enforces_size(alice_api):
    assert alice_api.get("/api/upload-url?type=text/html&file_size=10").status_code == 422
    assert alice_api.get("/api/upload-url?type=image/png&file_size=0").status_code == 422
    too_big = alice_api.get(f"/api/upload-url?type=image/png&file_size={51 * 1024 * 1024}")
    assert too_big.status_code == 413 and "50 MB" in too_big.json()["message"]
    ok = alice_api.get("/api/upload-url?type=video/mp4&file_size=100").json()
    assert ok["file_id"] and ok["download_url"] and ok["upload_url"]
    # The size is enforced at upload time, not only declared.
    larger = requests.put(ok["upload_url"], data=b"x" * 200, headers={"Content-Type": "video/mp4"}, timeout=10)
    assert larger.status_code == 403 and "exactly 100 bytes" in larger.json()["message"]
    exact = requests.put(ok["upload_url"], data=b"x" * 100, headers={"Content-Type": "video/mp4"}, timeout=10)
    assert exact.status_code == 200
    assert requests.get(ok["download_url"], timeout=10).content == b"x" * 100


def test_multipart_file_upload(app, alice_api):
    response = alice_api.post("/file", files={"file": ("cat.png", io.BytesIO(b"\x89PNG fake"), "image/png")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["upload_url"] is None and requests.get(body["download_url"], timeout=10).content == b"\x89PNG fake"
    assert alice_api.post("/file", files={"file": ("x.exe", io.BytesIO(b"MZ"), "application/x-msdownload")}).status_code == 422
    assert alice_api.post("/file", data={"nothing": "here"}).status_code == 422
    app.config["INPUT_MAX_BYTES"] = 10
    try:
        big = alice_api.post("/file", files={"file": ("big.png", io.BytesIO(b"y" * 50), "image/png")})
        assert big.status_code == 413
    finally:
        app.config["INPUT_MAX_BYTES"] = 50 * 1024 * 1024


class ModelServer:
    """A real HTTP server handing out a model file (and a 404)."""

    def __init__(self, payload: bytes):
        self.payload = payload
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/model.safetensors":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(outer.payload)))
                    self.end_headers()
                    self.wfile.write(outer.payload)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def model_server():
    server = ModelServer(b"weights" * 300_000)
    yield server
    server.stop()


def test_model_download_with_progress_size_and_sha(app, alice_api, model_server):
    app.config["ALLOW_PRIVATE_MODEL_URLS"] = True
    try:
        created = alice_api.post("/volume/model", json={"folder": "loras", "filename": "style.safetensors",
                                                        "url": f"{model_server.url}/model.safetensors"})
        assert created.status_code == 202 and created.json()["status"] == "pending"
        missing = alice_api.post("/volume/model", json={"folder": "loras", "filename": "gone.safetensors",
                                                        "url": f"{model_server.url}/missing"}).json()
        work(app)
    finally:
        app.config["ALLOW_PRIVATE_MODEL_URLS"] = False
    models = {m["filename"]: m for m in alice_api.get("/volume/model").json()}
    ready = models["style.safetensors"]
    assert ready["status"] == "ready" and ready["progress"] == 1.0
    assert ready["size"] == len(model_server.payload)
    assert ready["sha256"] == hashlib.sha256(model_server.payload).hexdigest()
    failed = models["gone.safetensors"]
    assert failed["status"] == "failed" and "404" in failed["error"] and missing["id"] == failed["id"]
    dup = alice_api.post("/volume/model", json={"folder": "loras", "filename": "style.safetensors",
                                                "url": f"{model_server.url}/model.safetensors"})
    assert dup.status_code == 409


def test_model_request_validation_and_private_urls(app, alice_api, model_server):
    for body, field in (({"folder": "bad", "filename": "a", "url": "http://x"}, "folder"),
                        ({"folder": "loras", "filename": "../a", "url": "http://x"}, "filename"),
                        ({"folder": "loras", "filename": "a", "url": "file:///etc/passwd"}, "url"),
                        ({"folder": "loras", "filename": "a", "url": "ftp://x/a"}, "url")):
        response = alice_api.post("/volume/model", json=body)
        assert response.status_code == 422 and field in str(response.json()), body
    alice_api.post("/volume/model", json={"folder": "vae", "filename": "v.pt", "url": f"{model_server.url}/model.safetensors"})
    work(app)  # ALLOW_PRIVATE_MODEL_URLS is off: loopback is refused (SSRF guard)
    model = alice_api.get("/volume/model").json()[0]
    assert model["status"] == "failed" and "private or loopback" in model["error"]


def test_machine_polling_records_health_and_fails_runs_when_gone(app, alice_api, sim):
    from conftest import sample_workflow_api
    from live import setup_deployment, wait_for
    from comfydeploy.services.machine_health import poll_machine
    from comfydeploy.tasks.maintenance import schedule_periodic_jobs
    sim.node_delay = 0.3
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api())
    machine_id = setup["machine"]["id"]
    with app.app_context():
        schedule_periodic_jobs()
    work(app)
    machine = alice_api.get(f"/machine/{machine_id}").json()
    assert machine["last_seen_at"] and machine["queue_size"] == 0 and machine["status"] == "ready"
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(app)
    wait_for(lambda: alice_api.get(f"/api/run?run_id={run_id}").json()["status"] == "running")
    sim.stop()  # the machine goes away mid-run
    app.config["MACHINE_OFFLINE_AFTER"] = 0
    try:
        with app.app_context():
            assert poll_machine(machine_id) == "offline"
    finally:
        app.config["MACHINE_OFFLINE_AFTER"] = 120
    machine = alice_api.get(f"/machine/{machine_id}").json()
    assert machine["status"] == "offline" and machine["health_error"]
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "failed" and "stopped answering" in run["error"]
    with app.app_context():
        assert db.session.get(Machine, machine_id).last_polled_at is not None
