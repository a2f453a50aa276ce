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


def _commits_during(app, action):
    import sqlalchemy as sa
    from comfydeploy.extensions import db
    commits = []
    with app.app_context():
        engine = db.engine
        listener = lambda conn: commits.append(1)  # noqa: E731
        sa.event.listen(engine, "commit", listener)
        try:
            result = action()
        finally:
            sa.event.remove(engine, "commit", listener)
    return result, len(commits)


def test_consumer_commits_once_per_batch(app, client, alice, new_run, stream_mode):
    runs = [new_run() for _ in range(3)]
    for run_id, headers in runs:
        for body in ({"status": "running"}, {"live_status": "Executing KSampler", "progress": 0.5}):
            assert client.post("/api/update-run", json={"run_id": run_id, **body}, headers=headers).status_code == 200
    applied, commits = _commits_during(app, lambda: callback_stream.consume(burst=True))
    assert applied == 6 and commits == 1
    for run_id, _ in runs:
        run = get_run(client, alice, run_id)
        assert run["status"] == "running" and run["progress"] == 0.5 and run["live_status"] == "Executing KSampler"


def test_a_failing_callback_costs_only_itself(app, client, alice, new_run, stream_mode):
    """An output of a run deleted meanwhile fails its foreign key: the batch is rolled back and applied
    one callback at a time, so the others still land and their webhooks still go out."""
    from comfydeploy.extensions import db
    from comfydeploy.models import Run, WebhookDelivery, WebhookEndpoint
    run_id, headers = new_run()
    gone_id, gone_headers = new_run()
    with app.app_context():
        db.session.add(WebhookEndpoint(user_id=alice.user_id, url="https://hooks.example.com/in",
                                       events=["run.started", "run.output"], secret="whsec_test", enabled=True))
        db.session.commit()
    client.post("/api/update-run", json={"run_id": run_id, "status": "running"}, headers=headers)
    client.post("/api/update-run", json={"run_id": gone_id, "output_data": {"text": ["lost"]}}, headers=gone_headers)
    client.post("/api/update-run", json={"run_id": run_id, "output_data": {"text": ["kept"]}}, headers=headers)
    with app.app_context():
        db.session.delete(db.session.get(Run, gone_id))
        db.session.commit()
        assert callback_stream.consume(burst=True) == 3
        events = sorted(db.session.scalars(db.select(WebhookDelivery.event_type)
                                           .where(WebhookDelivery.run_id == run_id)))
    assert events == ["run.output", "run.started"]
    run = get_run(client, alice, run_id)
    assert run["status"] == "running" and [o["data"] for o in run["outputs"]] == [{"text": ["kept"]}]
