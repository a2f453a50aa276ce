"""The real node's recorded callbacks (shared/reference/node-traces/) replayed against our endpoints."""
import json
import random
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from comfydeploy.extensions import db
from comfydeploy.models import Run
from comfydeploy.services.machine_health import expire_overdue_runs

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "node-traces"


def load(name):
    return json.loads((TRACES / f"{name}.json").read_text())


def replay(client, trace, run_id, headers, order=None):
    """Send the trace's callbacks as the node would, rewritten to our run, token and upload URLs."""
    old_id = trace["request"]["body"].get("prompt_id")
    rewrites = {}
    statuses = []
    callbacks = trace["callbacks"] if order is None else [trace["callbacks"][i] for i in order]
    for call in callbacks:
        path = call["path"]
        if call["method"] == "POST" and path.startswith("/status"):
            text = json.dumps(call["json"])
            if old_id:
                text = text.replace(old_id, run_id)
            for old, new in rewrites.items():
                text = text.replace(old, new)
            response = client.post("/api/update-run", data=text, content_type="application/json", headers=headers)
            statuses.append(response.status_code)
        elif call["method"] == "GET" and path.startswith("/upload") and call.get("response_code") == 200:
            query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
            query["run_id"] = run_id
            response = client.get("/api/file-upload", query_string=query, headers=headers)
            assert response.status_code == 200, response.get_json()
            assert response.content_type == "application/json"
            answer = response.get_json()
            rewrites[call["response"]["download_url"].replace(old_id, run_id)] = answer["download_url"]
            put = next(c for c in trace["callbacks"] if c["method"] == "PUT" and query["file_name"] in c["path"])
            body = bytes.fromhex(put.get("body_head_hex", "")) + b"\0" * (put["body_bytes"] - 16)
            stored = client.put(answer["url"], data=body, headers={"Content-Type": put["headers"]["Content-Type"],
                                                                    "Content-Length": str(len(body))})
            assert stored.status_code == 200, stored.get_json()
    return statuses


def state(app, run_id):
    with app.app_context():
        run = db.session.get(Run, run_id)
        return run.status, run.error, run.progress, run.live_status


def get_run(client, alice, run_id):
    return client.get(f"/api/run?run_id={run_id}", headers=alice.headers).get_json()


def test_success_trace(app, client, alice, new_run):
    run_id, headers = new_run()
    statuses = replay(client, load("success"), run_id, headers)
    assert set(statuses) == {200}
    run = get_run(client, alice, run_id)
    assert run["status"] == "success" and run["progress"] == 1.0 and run["started_at"] and run["ended_at"]
    kinds = [o["kind"] for o in run["outputs"]]
    assert kinds == ["timing", "output"]
    image = run["outputs"][1]["data"]["images"][0]
    assert image["filename"] == "peer_run_00015_.png" and "sig=" in image["url"]
    assert run["outputs"][1]["node_meta"] == {"node_id": "3", "node_class": None}
    assert client.get(image["url"]).status_code == 200


def test_invalid_trace(app, client, alice, new_run):
    run_id, headers = new_run()
    replay(client, load("invalid"), run_id, headers)
    run = get_run(client, alice, run_id)
    assert run["status"] == "failed"
    assert run["error"] == ("Invalid prompt: Prompt outputs failed validation; node 2 (ImageInvert): "
                            "Required input is missing image")


def test_runtime_fail_trace_keeps_failed_after_late_callbacks(app, client, alice, new_run):
    run_id, headers = new_run()
    replay(client, load("runtime_fail"), run_id, headers)
    run = get_run(client, alice, run_id)
    assert run["status"] == "failed"
    assert "TypeError in node 2 (ImageInvert)" in run["error"]
    assert run["outputs"][-1]["kind"] == "timing"  # the late timing array is still stored


@pytest.mark.parametrize("name", ["text", "cd_token"])
def test_text_traces(app, client, alice, new_run, name):
    run_id, headers = new_run()
    replay(client, load(name), run_id, headers)
    run = get_run(client, alice, run_id)
    assert run["status"] == "success"
    files = next(o for o in run["outputs"] if isinstance(o["data"], dict) and "files" in o["data"])
    assert files["data"]["files"][0]["filename"].startswith("peer_text_")


def test_preview_only_trace_infers_success(app, client, alice, new_run):
    run_id, headers = new_run()
    replay(client, load("preview_only"), run_id, headers)
    assert get_run(client, alice, run_id)["status"] == "success"


def test_no_upload_endpoint_trace_waits_then_times_out(app, client, alice, new_run):
    """Media was produced but never uploaded: no success arrives, so the deadline ends the run."""
    run_id, headers = new_run()
    replay(client, load("no_upload_endpoint"), run_id, headers)
    assert get_run(client, alice, run_id)["status"] == "running"
    with app.app_context():
        db.session.execute(db.update(Run).where(Run.id == run_id).values(deadline_at=Run.created_at))
        db.session.commit()
        assert expire_overdue_runs() == 1
    run = get_run(client, alice, run_id)
    assert run["status"] == "timeout" and "timed out" in run["error"]


def test_upload_fail_trace_succeeds_without_images(app, client, alice, new_run):
    run_id, headers = new_run()
    replay(client, load("upload_fail"), run_id, headers)
    run = get_run(client, alice, run_id)
    assert run["status"] == "success"
    assert not any(isinstance(o["data"], dict) and "images" in o["data"] for o in run["outputs"])


def test_interrupt_after_success_does_not_regress(app, client, alice, new_run):
    run_id, headers = new_run()
    statuses = replay(client, load("interrupt"), run_id, headers)
    assert statuses[-1] == 200  # cancelled is accepted (the original answered 500 and got 5 retries)
    assert get_run(client, alice, run_id)["status"] == "success"


@pytest.mark.parametrize("name", ["no_prompt_id", "success_after_no_prompt_id"])
def test_run_id_null_events_are_acknowledged(app, client, alice, new_run, name):
    run_id, headers = new_run()
    statuses = replay(client, load(name), run_id, headers)
    assert set(statuses) == {200}
    if name == "success_after_no_prompt_id":
        assert get_run(client, alice, run_id)["status"] == "success"


def test_callbacks_shuffled_and_duplicated(app, client, alice, new_run):
    """Neighbours swap and every callback arrives twice: the run still ends success, once."""
    trace = load("success")
    order = list(range(len(trace["callbacks"])))
    rng = random.Random(7)
    for i in range(0, len(order) - 2, 2):
        if rng.random() < 0.5:
            order[i], order[i + 1] = order[i + 1], order[i]
    # The explicit success must stay after the upload report, as the node guarantees.
    order.remove(len(order) - 1)
    order.append(len(trace["callbacks"]) - 1)
    doubled = [i for i in order for _ in (0, 1) if trace["callbacks"][i]["method"] == "POST"] + \
        [i for i in order if trace["callbacks"][i]["method"] != "POST"]
    run_id, headers = new_run()
    replay(client, trace, run_id, headers, order=sorted(doubled, key=lambda i: order.index(i)))
    run = get_run(client, alice, run_id)
    assert run["status"] == "success"
    with app.app_context():
        ended = db.session.get(Run, run_id).ended_at
    # A late running must not reopen it.
    client.post("/api/update-run", json={"run_id": run_id, "status": "running"}, headers=headers)
    with app.app_context():
        again = db.session.get(Run, run_id)
        assert again.status == "success" and again.ended_at == ended


def test_callback_authentication(app, client, alice, new_run):
    run_id, headers = new_run()
    other_id, other_headers = new_run()
    body = {"run_id": run_id, "status": "running"}
    assert client.post("/api/update-run", json=body).status_code == 401
    assert client.post("/api/update-run", json=body, headers=other_headers).status_code == 401
    assert client.post("/api/update-run", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/update-run", json=body, headers=alice.headers).status_code == 401
    assert state(app, run_id)[0] == "not-started"
    upload = {"file_name": "a.png", "run_id": run_id, "type": "image/png"}
    assert client.get("/api/file-upload", query_string=upload).status_code == 401
    assert client.get("/api/file-upload", query_string=upload, headers=other_headers).status_code == 401
    response = client.post("/api/update-run", json=body, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"message": "success"}
    assert state(app, run_id)[0] == "running"


def test_tokenless_legacy_setting(app, client, alice, new_run):
    run_id, _ = new_run()
    app.config["ALLOW_TOKENLESS_CALLBACKS"] = True
    try:
        assert client.post("/api/update-run", json={"run_id": run_id, "status": "running"}).status_code == 200
        # A wrong token is still refused even when token-less callbacks are allowed.
        assert client.post("/api/update-run", json={"run_id": run_id, "status": "failed"},
                           headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        app.config["ALLOW_TOKENLESS_CALLBACKS"] = False
    assert state(app, run_id)[0] == "running"


def test_bad_callback_bodies(app, client, new_run):
    run_id, headers = new_run()
    assert client.post("/api/update-run", data="not json", content_type="application/json",
                       headers=headers).status_code == 422
    assert client.post("/api/update-run", json=[1, 2], headers=headers).status_code == 422
    response = client.post("/api/update-run", json={"run_id": run_id, "status": "exploded"}, headers=headers)
    assert response.status_code == 422 and "status" in response.get_json()["errors"]
    big = {"run_id": run_id, "output_data": {"text": ["x" * (6 * 1024 * 1024)]}}
    assert client.post("/api/update-run", json=big, headers=headers).status_code == 413
    assert client.post("/api/update-run", json={"run_id": "../../etc"}, headers=headers).status_code == 422


def test_legacy_node_statuses(app, client, alice, new_run):
    """The Feb-2024 node sends uploading, raw image outputs without url, and success itself."""
    run_id, headers = new_run()
    for body in ({"run_id": run_id, "status": "running"}, {"run_id": run_id, "status": "uploading"},
                 {"run_id": run_id, "output_data": {"images": [{"filename": "x.png", "subfolder": "", "type": "output"}]}},
                 {"run_id": run_id, "status": "success"}):
        assert client.post("/api/update-run", json=body, headers=headers).status_code == 200
    assert get_run(client, alice, run_id)["status"] == "success"


def test_live_status_progress_and_logs(app, client, alice, new_run):
    run_id, headers = new_run()
    client.post("/api/update-run", json={"run_id": run_id, "live_status": "Executing KSampler", "progress": 0.5},
                headers=headers)
    from comfydeploy.models import RunEvent
    with app.app_context():
        events = db.session.scalars(db.select(RunEvent).where(RunEvent.run_id == run_id)).all()
        assert [(e.type, e.data) for e in events] == [("progress", {"live_status": "Executing KSampler",
                                                                     "progress": 0.5})]
    client.post("/api/update-run", json={"run_id": run_id, "log_data": [{"logs": "line 1\nline 2"}]}, headers=headers)
    run = get_run(client, alice, run_id)
    assert run["live_status"] == "Executing KSampler" and run["progress"] == 0.5
    from comfydeploy.models import RunLog
    with app.app_context():
        assert db.session.scalars(db.select(RunLog.text).where(RunLog.run_id == run_id)).all() == ["line 1\nline 2"]


def test_progress_after_the_end_changes_nothing(app, client, alice, new_run):
    run_id, headers = new_run()
    for body in ({"status": "running"}, {"live_status": "Executing KSampler", "progress": 0.5},
                 {"status": "success"}, {"live_status": "Executing VAEDecode", "progress": 0.7}):
        assert client.post("/api/update-run", json={"run_id": run_id, **body}, headers=headers).status_code == 200
    assert state(app, run_id)[0] == "success" and state(app, run_id)[2:] == (1.0, "Executing KSampler")
    from comfydeploy.models import RunEvent
    with app.app_context():
        types = db.session.scalars(db.select(RunEvent.type).where(RunEvent.run_id == run_id).order_by(RunEvent.id))
        assert list(types) == ["status", "progress", "status"]


def test_callbacks_of_a_deleted_run(app, client, new_run):
    run_id, headers = new_run()
    with app.app_context():
        db.session.delete(db.session.get(Run, run_id))
        db.session.commit()
    # Rows for it are refused by their foreign keys: 404. A status or progress changes nothing: 200,
    # which stops the node's retries.
    assert client.post("/api/update-run", json={"run_id": run_id, "output_data": {"text": ["x"]}},
                       headers=headers).status_code == 404
    for body in ({"status": "running"}, {"live_status": "Executing KSampler", "progress": 0.5}):
        assert client.post("/api/update-run", json={"run_id": run_id, **body}, headers=headers).status_code == 200


def test_file_upload_names_are_sanitised_and_unique(app, client, new_run):
    run_id, headers = new_run()
    keys = []
    for name in ("../../etc/passwd", "sub/dir/out.png", "out.png", "out.png", "we ird<>name.png"):
        response = client.get("/api/file-upload", query_string={"file_name": name, "run_id": run_id,
                                                                  "type": "image/png", "version": "v2"}, headers=headers)
        assert response.status_code == 200, response.get_json()
        keys.append(urlsplit(response.get_json()["url"]).path)
    assert keys[0].endswith(f"/storage/outputs/runs/{run_id}/passwd")
    assert keys[1].endswith("/out.png") and keys[2].endswith("/out_1.png") and keys[3].endswith("/out_2.png")
    assert ".." not in "".join(keys) and "<" not in keys[4]
    bad_type = client.get("/api/file-upload", query_string={"file_name": "a", "run_id": run_id, "type": "x"},
                          headers=headers)
    assert bad_type.status_code == 422


def test_presigned_put_checks(app, client, new_run):
    run_id, headers = new_run()
    answer = client.get("/api/file-upload", query_string={"file_name": "a.png", "run_id": run_id, "type": "image/png"},
                        headers=headers).get_json()
    assert answer["include_acl"] is False
    wrong_type = client.put(answer["url"], data=b"abc", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 403
    ok = client.put(answer["url"], data=b"abc", headers={"Content-Type": "image/png"})
    assert ok.status_code == 200
    forged = answer["url"].replace("image%2Fpng", "text%2Fplain")
    assert client.put(forged, data=b"abc", headers={"Content-Type": "text/plain"}).status_code == 403
