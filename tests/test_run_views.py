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
