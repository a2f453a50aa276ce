"""The polling path (GET /api/run) reads runs with Core and serialises without marshmallow: it must give
exactly what the ORM view dumped through RunSchema gives, in every state a run can be in."""
import pytest

from comfydeploy.auth import Scope
from comfydeploy.extensions import db
from comfydeploy.models import Run
from comfydeploy.schemas.run import RunSchema
from comfydeploy.services.run_views import dump_run_view, load_run_view, run_view


def _callback(client, headers, run_id, **body):
    response = client.post("/api/update-run", json={"run_id": run_id, **body}, headers=headers)
    assert response.status_code == 200, response.get_json()


def _strip_signatures(view):
    for output in view.get("outputs", []):
        data = output.get("data")
        for key in ("images", "files", "gifs"):
            for item in (data.get(key) or []) if isinstance(data, dict) else []:
                if isinstance(item, dict) and isinstance(item.get("url"), str):
                    item["url"] = item["url"].split("?", 1)[0]
    return view


@pytest.mark.parametrize("state", ["queued", "running", "success_with_media", "failed_with_error"])
def test_core_view_and_fast_dump_match_the_schema(app, client, alice, new_run, state):
    run_id, headers = new_run()
    if state == "running":
        _callback(client, headers, run_id, status="running")
        _callback(client, headers, run_id, live_status="KSampler", progress=0.5)
    elif state == "success_with_media":
        _callback(client, headers, run_id, status="running")
        upload = client.get(f"/api/file-upload?run_id={run_id}&file_name=out.png&type=image/png", headers=headers)
        download_url = upload.get_json()["download_url"]
        _callback(client, headers, run_id, output_data={"images": [
            {"filename": "out.png", "subfolder": "", "type": "output", "url": download_url}]},
            node_meta={"node_id": "9", "node_class": "SaveImage"})
        _callback(client, headers, run_id, output_data=[{"id": "9", "time": 0.25}])
        _callback(client, headers, run_id, status="success")
    elif state == "failed_with_error":
        _callback(client, headers, run_id, status="running")
        _callback(client, headers, run_id, output_data={"error": {"message": "boom"}})
        _callback(client, headers, run_id, status="failed")
    with app.test_request_context():
        run = db.session.get(Run, run_id)
        scope = Scope(alice.user_id)
        orm_view = run_view(run, "http://testserver")
        core_view = load_run_view(scope, run_id, "http://testserver")
        assert _strip_signatures(core_view) == _strip_signatures(dict(orm_view))
        assert dump_run_view(orm_view) == RunSchema().dump(orm_view)
        if state == "success_with_media":
            assert core_view["outputs"][0]["data"]["images"][0]["file_id"]
    body = client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()
    with app.test_request_context():
        expected = RunSchema().dump(run_view(db.session.get(Run, run_id), "http://localhost"))
    assert _strip_signatures(body) == _strip_signatures(expected)


def test_other_tenants_runs_are_not_found(app, client, alice, bob, new_run):
    run_id, _ = new_run()
    response = client.get(f"/api/run?run_id={run_id}", headers=bob.headers)
    assert response.status_code == 404 and response.get_json()["message"] == f"Run {run_id} not found"


def _finish(client, headers, run_id):
    _callback(client, headers, run_id, status="running")
    _callback(client, headers, run_id, output_data={"text": ["first"]}, node_meta={"node_id": "5"})
    _callback(client, headers, run_id, status="success")


def _cached(app, run_id):
    from comfydeploy.queue import redis_connection
    from comfydeploy.services.run_view_cache import VIEW_KEY
    with app.app_context():
        return redis_connection().exists(VIEW_KEY + run_id) == 1


def test_finished_run_is_served_from_cache_until_it_changes(app, client, alice, new_run):
    run_id, headers = new_run()
    _finish(client, headers, run_id)
    first = client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()
    assert first["status"] == "success" and _cached(app, run_id)
    assert client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json() == first
    # A late output (the node may send one after success) is visible on the very next poll.
    _callback(client, headers, run_id, output_data={"text": ["late"]}, node_meta={"node_id": "6"})
    after = client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()
    assert [o["data"] for o in after["outputs"]] == [{"text": ["first"]}, {"text": ["late"]}]


def test_repeated_polls_reuse_the_rendered_body_until_the_run_changes(app, client, alice, bob, new_run,
                                                                      monkeypatch):
    from types import SimpleNamespace
    from comfydeploy.services import run_views
    run_id, headers = new_run()
    _callback(client, headers, run_id, status="running")
    upload = client.get(f"/api/file-upload?run_id={run_id}&file_name=out.png&type=image/png", headers=headers)
    _callback(client, headers, run_id, output_data={"images": [
        {"filename": "out.png", "subfolder": "", "type": "output", "url": upload.get_json()["download_url"]}]})
    _callback(client, headers, run_id, status="success")
    signed = []
    sign = run_views._sign
    monkeypatch.setattr(run_views, "_sign", lambda *args: signed.append(1) or sign(*args))

    def poll(tenant=alice):
        return client.get(f"/api/run?run_id={run_id}", headers=tenant.headers)

    poll()  # from the database; the view is cached in Redis
    second = poll().get_data()  # from Redis, rendered, remembered by this process
    third = poll().get_data()  # the remembered body: no decoding, no signing
    assert len(signed) == 2 and third == second
    assert poll(bob).status_code == 404  # still the owner's only
    # A late output bumps the run's generation: rendered afresh, with the output.
    _callback(client, headers, run_id, output_data={"text": ["late"]})
    assert poll().get_json()["outputs"][-1]["data"] == {"text": ["late"]} and len(signed) == 3
    poll()
    assert len(signed) == 4
    # Signed URLs handed out stay young: past the reuse window (60 s here) they are signed again.
    later = run_views.time.monotonic() + 61
    monkeypatch.setattr(run_views, "time", SimpleNamespace(monotonic=lambda: later))
    poll()
    assert len(signed) == 5


def test_cached_view_follows_deletes_and_tenancy(app, client, alice, bob, new_run):
    run_id, headers = new_run()
    _finish(client, headers, run_id)
    view = client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()
    assert _cached(app, run_id)
    assert client.get(f"/api/run?run_id={run_id}", headers=bob.headers).status_code == 404
    assert client.delete(f"/deployment/{view['deployment_id']}", headers=alice.headers).status_code == 204
    assert client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()["deployment_id"] is None
    assert client.delete(f"/api/workflows/{view['workflow_id']}", headers=alice.headers).status_code in (200, 204)
    assert client.get(f"/api/run?run_id={run_id}", headers=alice.headers).status_code == 404


def test_unfinished_runs_are_never_cached(app, client, alice, new_run):
    run_id, headers = new_run()
    _callback(client, headers, run_id, status="running")
    assert client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()["status"] == "running"
    assert not _cached(app, run_id)


@pytest.mark.parametrize("query", ["", "?run_id="])
def test_poll_without_run_id_says_what_to_send(client, alice, query):
    response = client.get(f"/api/run{query}", headers=alice.headers)
    body = response.get_json()
    assert response.status_code == 422 and "run_id is required" in body["message"]
    assert body["errors"] == {"query": {"run_id": ["Missing data for required field."]}}


@pytest.mark.parametrize("body, field", [({}, "deployment_id"), ({"deployment_id": 5}, "deployment_id"),
                                         ({"deployment_id": "d", "inputs": [1]}, "inputs"),
                                         ({"deployment_id": "d", "webhook": 3}, "webhook")])
def test_run_request_errors_name_the_field(client, alice, body, field):
    response = client.post("/api/run", json=body, headers=alice.headers)
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"]


@pytest.mark.parametrize("wait", ["-1", "301", "soon", "1.5"])
def test_run_wait_must_be_0_to_300(client, alice, wait):
    response = client.post(f"/api/run?wait={wait}", json={"deployment_id": "d"}, headers=alice.headers)
    assert response.status_code == 422 and "wait" in response.get_json()["errors"]["query"]


def test_run_body_must_be_an_object(client, alice):
    response = client.post("/api/run", data="[]", content_type="application/json", headers=alice.headers)
    assert response.status_code == 422 and "JSON object" in response.get_json()["message"]
