"""CALLBACK_PROCESSING=stream: callbacks are accepted at once and applied by `flask rq callbacks`."""
import pytest

from comfydeploy.services import callback_stream
from test_callbacks import get_run, load, replay


@pytest.fixture
def stream_mode(app):
    app.config["CALLBACK_PROCESSING"] = "stream"
    yield
    app.config["CALLBACK_PROCESSING"] = "inline"


def test_trace_is_applied_by_the_consumer(app, client, alice, new_run, stream_mode):
    run_id, headers = new_run()
    statuses = replay(client, load("success"), run_id, headers)
    assert set(statuses) == {200}
    assert get_run(client, alice, run_id)["status"] == "not-started"  # accepted, not applied yet
    with app.app_context():
        queued = callback_stream.backlog()
        assert 0 < queued < 20  # only the callbacks that change state were queued
        assert callback_stream.consume(burst=True) == queued
        assert callback_stream.backlog() == 0
    run = get_run(client, alice, run_id)
    assert run["status"] == "success" and [o["kind"] for o in run["outputs"]] == ["timing", "output"]


def test_bad_callbacks_are_refused_before_queueing(app, client, new_run, stream_mode):
    run_id, headers = new_run()
    assert client.post("/api/update-run", json={"run_id": run_id, "status": "running"}).status_code == 401
    assert client.post("/api/update-run", json={"run_id": run_id, "status": "nope"}, headers=headers).status_code == 422
    with app.app_context():
        assert callback_stream.backlog() == 0


def test_consumer_skips_callbacks_of_deleted_runs(app, client, alice, new_run, stream_mode):
    run_id, headers = new_run()
    other_id, other_headers = new_run()
    client.post("/api/update-run", json={"run_id": run_id, "status": "running"}, headers=headers)
    client.post("/api/update-run", json={"run_id": other_id, "status": "running"}, headers=other_headers)
    from comfydeploy.extensions import db
    from comfydeploy.models import Run
    with app.app_context():
        db.session.delete(db.session.get(Run, run_id))
        db.session.commit()
        assert callback_stream.consume(burst=True) == 2
    assert get_run(client, alice, other_id)["status"] == "running"


def test_cli_consumer(app, runner, client, alice, new_run, stream_mode):
    run_id, headers = new_run()
    client.post("/api/update-run", json={"run_id": run_id, "status": "running"}, headers=headers)
    result = runner.invoke(args=["rq", "callbacks", "--burst"])
    assert result.exit_code == 0 and "applied 1 callbacks" in result.output
    assert get_run(client, alice, run_id)["status"] == "running"
