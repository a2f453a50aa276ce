"""POST /api/workflow, GET /api/workflow-version/<id>, /api/workflows and input schemas."""
import threading

from conftest import push_workflow, sample_workflow_api


def test_push_creates_then_adds_versions(client, alice):
    first = push_workflow(client, alice, "txt2img")
    assert first["version"] == 1 and isinstance(first["version"], int)
    second = push_workflow(client, alice, workflow_id=first["workflow_id"])
    assert second == {"workflow_id": first["workflow_id"], "version": 2,
                      "workflow_version_id": second["workflow_version_id"]}


def test_push_ignores_plugin_extra_keys(client, alice):
    body = {"workflow_name": "w", "workflow_api": sample_workflow_api(), "workflow": {"nodes": []},
            "snapshot": {"comfyui": "x"}, "dependencies": {"models": {}}}
    assert client.post("/api/workflow", json=body, headers=alice.headers).status_code == 200


def test_push_validates_workflow_api(client, alice):
    response = client.post("/api/workflow", json={"workflow_name": "w", "workflow_api": {"1": {"inputs": {}}}},
                           headers=alice.headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"]["workflow_api"]["1"] == ["Node needs a class_type string."]
    response = client.post("/api/workflow", json={"workflow_name": "w"}, headers=alice.headers)
    assert response.status_code == 422 and "workflow_api" in response.get_json()["errors"]["json"]
    response = client.post("/api/workflow", json={"workflow_api": sample_workflow_api()}, headers=alice.headers)
    assert response.status_code == 422 and "workflow_name" in response.get_json()["errors"]


def test_push_rejects_large_bodies(app, client, alice):
    big = {"workflow_name": "big", "workflow_api": sample_workflow_api(), "workflow": {"blob": "x" * (21 * 1024 * 1024)}}
    response = client.post("/api/workflow", json=big, headers=alice.headers)
    assert response.status_code == 413
    assert response.get_json()["code"] == 413


def test_push_to_another_tenants_workflow_is_404(client, alice, bob):
    mine = push_workflow(client, alice)
    body = {"workflow_id": mine["workflow_id"], "workflow_api": sample_workflow_api()}
    assert client.post("/api/workflow", json=body, headers=bob.headers).status_code == 404


def test_get_version_only_for_owner(client, alice, bob, acme):
    pushed = push_workflow(client, alice)
    url = f"/api/workflow-version/{pushed['workflow_version_id']}"
    response = client.get(url, headers=alice.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"workflow_id", "id", "workflow", "workflow_api", "version", "snapshot", "created_at",
                         "updated_at"}
    assert body["version"] == 1
    assert client.get(url, headers=bob.headers).status_code == 404
    # Alice's organisation key does not see her personal workflows either.
    assert client.get(url, headers=acme.headers).status_code == 404


def test_list_and_detail(client, alice, bob):
    ids = [push_workflow(client, alice, f"wf{i}")["workflow_id"] for i in range(3)]
    push_workflow(client, alice, workflow_id=ids[0])
    page = client.get("/api/workflows?limit=2", headers=alice.headers).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"/api/workflows?limit=2&cursor={page['next_cursor']}", headers=alice.headers).get_json()
    assert rest["next_cursor"] is None
    seen = [w["id"] for w in page["items"] + rest["items"]]
    assert sorted(seen) == sorted(ids) and seen[0] == ids[0]  # the one with a new version comes first
    detail = client.get(f"/api/workflows/{ids[0]}", headers=alice.headers).get_json()
    assert [v["version"] for v in detail["versions"]] == [2, 1] and detail["latest_version"] == 2
    assert client.get(f"/api/workflows/{ids[0]}", headers=bob.headers).status_code == 404
    assert client.get("/api/workflows", headers=bob.headers).get_json()["items"] == []


def test_input_schema(client, alice):
    api = sample_workflow_api()
    api["6"] = {"class_type": "ComfyUIDeployExternalEnum",
                "inputs": {"input_id": "style", "default_value": "a", "options": '["a", "b"]'}}
    api["7"] = {"class_type": "ComfyUIDeployExternalNumberSlider",
                "inputs": {"input_id": "strength", "default_value": 0.5, "min_value": 0, "max_value": 1}}
    api["8"] = {"class_type": "ComfyUIDeployExternalImage", "inputs": {"input_id": "photo", "default_value_url": ""}}
    pushed = push_workflow(client, alice, workflow_api=api)
    body = client.get(f"/api/workflow-version/{pushed['workflow_version_id']}/inputs", headers=alice.headers).get_json()
    by_id = {i["input_id"]: i for i in body["inputs"]}
    assert set(by_id) == {"prompt", "steps", "style", "strength", "photo"}
    assert by_id["prompt"]["type"] == "string" and by_id["prompt"]["default_value"] == "a cat"
    assert by_id["steps"]["type"] == "integer"
    assert by_id["style"]["options"] == ["a", "b"] and by_id["style"]["type"] == "enum"
    assert by_id["strength"]["min"] == 0 and by_id["strength"]["max"] == 1
    assert by_id["photo"]["type"] == "image"


def test_concurrent_pushes_get_distinct_versions(app, alice):
    """Version numbers are unique even when pushes race."""
    client = app.test_client()
    first = push_workflow(client, alice)
    results, errors = [], []

    def push():
        c = app.test_client()
        r = c.post("/api/workflow", json={"workflow_id": first["workflow_id"], "workflow_api": sample_workflow_api()},
                   headers=alice.headers)
        (results if r.status_code == 200 else errors).append(r.get_json())

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    versions = sorted(r["version"] for r in results)
    assert versions == list(range(2, 8))


def test_delete_workflow(client, alice, bob):
    pushed = push_workflow(client, alice)
    assert client.delete(f"/api/workflows/{pushed['workflow_id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/api/workflows/{pushed['workflow_id']}", headers=alice.headers).status_code == 204
    assert client.get(f"/api/workflow-version/{pushed['workflow_version_id']}", headers=alice.headers).status_code == 404
