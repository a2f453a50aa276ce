"""Dispatching runs: input checks, retries with backoff, no double dispatch, machine failures."""
import socket
import threading

import pytest
from rq.registry import ScheduledJobRegistry

from comfydeploy.extensions import db
from comfydeploy.models import Run
from comfydeploy.queue import get_queue
from comfydeploy.services import dispatch as run_service
from conftest import sample_workflow_api
from live import setup_deployment, wait_for_run, work


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(alice_api, machine_url, **kw):
    setup = setup_deployment(alice_api, machine_url, sample_workflow_api(), **kw)
    response = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]})
    assert response.status_code == 200, response.text
    return setup, response.json()["run_id"]


def run_row(app, run_id):
    with app.app_context():
        run = db.session.get(Run, run_id)
        db.session.expunge(run)
        return run


def test_inputs_are_checked_against_the_schema(alice_api, sim):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api())
    deployment_id = setup["deployment"]["id"]
    response = alice_api.post("/api/run", json={"deployment_id": deployment_id, "inputs": {"promt": "typo"}})
    assert response.status_code == 422
    body = response.json()
    assert "Unknown input. This deployment accepts: prompt, steps." in body["errors"]["inputs"]["promt"]
    response = alice_api.post("/api/run", json={"deployment_id": deployment_id, "inputs": {"steps": "many"}})
    assert response.status_code == 422 and body["code"] == 422
    assert response.json()["errors"]["inputs"]["steps"] == ["Must be an integer."]
    response = alice_api.post("/api/run", json={"deployment_id": deployment_id, "inputs": {"prompt": 5}})
    assert response.json()["errors"]["inputs"]["prompt"] == ["Must be a string."]
    response = alice_api.post("/api/run", json={"deployment_id": deployment_id, "inputs": ["x"]})
    assert response.status_code == 422
    assert alice_api.get("/api/runs").json()["items"] == []  # nothing half-written


def test_missing_foreign_and_disabled(alice_api, sim, bob, live):
    from live import Api
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api())
    deployment_id = setup["deployment"]["id"]
    assert alice_api.post("/api/run", json={"deployment_id": "nope"}).status_code == 404
    assert alice_api.post("/api/run", json={}).status_code == 422
    bob_api = Api(live.url, bob.headers)
    assert bob_api.post("/api/run", json={"deployment_id": deployment_id}).status_code == 404
    alice_api.put(f"/machine/{setup['machine']['id']}", json={"disabled": True})
    response = alice_api.post("/api/run", json={"deployment_id": deployment_id})
    assert response.status_code == 409 and "disabled" in response.json()["message"]


def test_run_is_committed_before_dispatch_and_request_does_not_wait(app, alice_api, sim):
    sim.dispatch_delay = 2
    setup, run_id = start(alice_api, sim.url)
    # The answer came back without the machine being contacted at all.
    assert sim.dispatches == []
    assert run_row(app, run_id).status == "not-started"
    with app.app_context():
        assert get_queue("runs").fetch_job(f"dispatch-{run_id}") is not None


def test_transient_failure_is_retried_with_backoff(app, alice_api, sim):
    sim.fail_dispatches = 2
    setup, run_id = start(alice_api, sim.url)
    work(app)
    with app.app_context():
        scheduled = ScheduledJobRegistry(queue=get_queue("runs"))
        assert f"dispatch-{run_id}" in scheduled.get_job_ids()  # RQ retries it later, not now
    row = run_row(app, run_id)
    assert row.status == "not-started" and row.dispatch_attempts == 1 and row.dispatch_claimed_at is None
    with app.app_context():
        with pytest.raises(run_service.RetryDispatch):
            run_service.dispatch(run_id)        # second attempt: 503 again
        assert run_service.dispatch(run_id) == "dispatched"   # third attempt goes through
    assert len(sim.dispatches) == 1
    assert wait_for_run(alice_api, run_id)["status"] == "success"


def test_duplicate_and_concurrent_jobs_dispatch_once(app, alice_api, sim):
    setup, run_id = start(alice_api, sim.url)
    results = []

    def job():
        with app.app_context():
            results.append(run_service.dispatch(run_id))
            db.session.remove()

    threads = [threading.Thread(target=job) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work(app)  # the queued job runs too
    assert sorted(results).count("dispatched") == 1
    assert len(sim.dispatches) == 1
    assert wait_for_run(alice_api, run_id)["status"] == "success"


def test_machine_down_fails_after_bounded_attempts(app, alice_api):
    port = free_port()  # nothing listens there
    setup, run_id = start(alice_api, f"http://127.0.0.1:{port}")
    attempts = app.config["DISPATCH_MAX_ATTEMPTS"]
    with app.app_context():
        for _ in range(attempts - 1):
            with pytest.raises(run_service.RetryDispatch):
                run_service.dispatch(run_id)
        assert run_service.dispatch(run_id) == "failed"
        assert run_service.dispatch(run_id) == "skipped"
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "failed"
    assert "unreachable" in run["error"] and f"gave up after {attempts} attempts" in run["error"]


def test_read_timeout_checks_the_machine_before_resending(app, alice_api, sim):
    sim.dispatch_delay = 1.5
    setup, run_id = start(alice_api, sim.url)
    app.config["DISPATCH_READ_TIMEOUT"] = 0.5
    try:
        with app.app_context():
            outcome = run_service.dispatch(run_id)
    finally:
        app.config["DISPATCH_READ_TIMEOUT"] = 60
    # The machine got the run despite the timeout: it must not be sent again.
    assert outcome == "dispatched"
    assert len(sim.dispatches) == 1
    assert wait_for_run(alice_api, run_id)["status"] == "success"


def test_serverless_dispatch_wraps_input(app, alice_api, sim):
    setup, run_id = start(alice_api, sim.url, machine_type="modal-serverless")
    work(app)
    assert wait_for_run(alice_api, run_id)["status"] == "success"
    assert sim.dispatches[0]["prompt_id"] == run_id


def test_runpod_without_token_fails_clearly(app, alice_api, sim):
    setup, run_id = start(alice_api, sim.url, machine_type="runpod-serverless")
    work(app)
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "failed" and "auth_token" in run["error"]


def test_run_timeout_interrupts_the_machine(app, alice_api, sim):
    sim.node_delay = 0.5
    setup, run_id = start(alice_api, sim.url, run_timeout=1)
    work(app)
    from live import wait_for
    wait_for(lambda: alice_api.get(f"/api/run?run_id={run_id}").json()["status"] == "running")
    import time
    time.sleep(1.2)
    with app.app_context():
        from comfydeploy.services.machine_health import expire_overdue_runs
        assert expire_overdue_runs() == 1
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "timeout" and "timed out" in run["error"]
    work(app)  # the interrupt job
    # The machine was told to stop: it reports the interruption, which does not change the outcome.
    wait_for(lambda: any(c.get("body") and c["body"].get("ws_event", {}).get("event") == "execution_interrupted"
                         for c in sim.callbacks))
    assert alice_api.get(f"/api/run?run_id={run_id}").json()["status"] == "timeout"


def test_never_dispatched_run_times_out(app, alice_api):
    setup, run_id = start(alice_api, "http://127.0.0.1:9", run_timeout=1)
    with app.app_context():
        db.session.execute(db.update(Run).where(Run.id == run_id).values(deadline_at=Run.created_at))
        db.session.commit()
        from comfydeploy.services.machine_health import expire_overdue_runs
        expire_overdue_runs()
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "timeout" and "waiting" in run["error"] and "queue time-to-live" in run["error"]
