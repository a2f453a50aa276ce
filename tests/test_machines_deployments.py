"""/machine and /deployment: validation, write-only tokens, upserts, 409s and tenant isolation."""
from conftest import push_workflow


def make_machine(client, tenant, **fields):
    body = {"name": "gpu-1", "endpoint": "http://127.0.0.1:8188", "type": "classic"}
    body.update(fields)
    response = client.post("/machine", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_machine_crud_and_write_only_token(client, alice):
    machine = make_machine(client, alice, auth_token="secret-token", type="runpod-serverless",
                           endpoint="https://api.runpod.ai/v2/abc/")
    assert "auth_token" not in machine and machine["has_auth_token"] is True
    assert machine["endpoint"] == "https://api.runpod.ai/v2/abc"
    listed = client.get("/machine", headers=alice.headers).get_json()
    assert "secret-token" not in str(listed)
    updated = client.put(f"/machine/{machine['id']}", json={"disabled": True, "name": "renamed"},
                         headers=alice.headers).get_json()
    assert updated["disabled"] is True and updated["name"] == "renamed" and updated["type"] == "runpod-serverless"
    assert client.delete(f"/machine/{machine['id']}", headers=alice.headers).status_code == 204
    assert client.get(f"/machine/{machine['id']}", headers=alice.headers).status_code == 404


def test_machine_validation(client, alice):
    for endpoint in ("ftp://x", "not a url", "http://", "javascript:alert(1)", "http://u:p@host"):
        response = client.post("/machine", json={"name": "m", "endpoint": endpoint}, headers=alice.headers)
        assert response.status_code == 422, endpoint
        assert "endpoint" in str(response.get_json()["errors"])
    response = client.post("/machine", json={"name": "m", "endpoint": "http://h", "type": "gpu"}, headers=alice.headers)
    assert response.status_code == 422 and "type" in response.get_json()["errors"]["json"]


def test_machine_isolation(client, alice, bob, acme):
    machine = make_machine(client, alice)
    for tenant in (bob, acme):
        assert client.get(f"/machine/{machine['id']}", headers=tenant.headers).status_code == 404
        assert client.put(f"/machine/{machine['id']}", json={"name": "x"}, headers=tenant.headers).status_code == 404
        assert client.delete(f"/machine/{machine['id']}", headers=tenant.headers).status_code == 404
        assert client.get("/machine", headers=tenant.headers).get_json() == []


def test_deployment_upsert_and_share_slug(client, alice):
    machine = make_machine(client, alice)
    pushed = push_workflow(client, alice, "Cute Cats")
    body = {"workflow_version_id": pushed["workflow_version_id"], "machine_id": machine["id"],
            "environment": "production"}
    first = client.post("/deployment", json=body, headers=alice.headers)
    assert first.status_code == 201
    v2 = push_workflow(client, alice, workflow_id=pushed["workflow_id"])
    again = client.post("/deployment", json={**body, "workflow_version_id": v2["workflow_version_id"]},
                        headers=alice.headers)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["workflow_version_id"] == v2["workflow_version_id"]
    share = client.post("/deployment", json={**body, "environment": "public-share"}, headers=alice.headers).get_json()
    assert share["share_slug"] == "alice-cute-cats"
    assert first.get_json()["share_slug"] is None
    assert len(client.get("/deployment", headers=alice.headers).get_json()) == 2
    inputs = client.get(f"/deployment/{share['id']}/inputs", headers=alice.headers).get_json()
    assert [i["input_id"] for i in inputs["inputs"]] == ["prompt", "steps"]


def test_deployment_requires_own_version_and_machine(client, alice, bob):
    machine = make_machine(client, alice)
    pushed = push_workflow(client, alice)
    bobs_machine = make_machine(client, bob)
    bobs = push_workflow(client, bob)
    response = client.post("/deployment", json={"workflow_version_id": pushed["workflow_version_id"],
                                                "machine_id": bobs_machine["id"], "environment": "staging"},
                           headers=alice.headers)
    assert response.status_code == 404
    response = client.post("/deployment", json={"workflow_version_id": bobs["workflow_version_id"],
                                                "machine_id": machine["id"], "environment": "staging"},
                           headers=alice.headers)
    assert response.status_code == 404
    response = client.post("/deployment", json={"workflow_version_id": pushed["workflow_version_id"],
                                                "machine_id": machine["id"], "environment": "prod"},
                           headers=alice.headers)
    assert response.status_code == 422


def test_deployment_update_delete_and_machine_409(client, alice, bob):
    machine = make_machine(client, alice)
    other = make_machine(client, alice, name="gpu-2")
    pushed = push_workflow(client, alice)
    deployment = client.post("/deployment", json={"workflow_version_id": pushed["workflow_version_id"],
                                                  "machine_id": machine["id"], "environment": "staging"},
                             headers=alice.headers).get_json()
    response = client.delete(f"/machine/{machine['id']}", headers=alice.headers)
    assert response.status_code == 409
    assert deployment["id"] in response.get_json()["message"]
    assert response.get_json()["errors"]["deployments"] == [deployment["id"]]
    assert client.put(f"/deployment/{deployment['id']}", json={"machine_id": other["id"]},
                      headers=bob.headers).status_code == 404
    moved = client.put(f"/deployment/{deployment['id']}", json={"machine_id": other["id"], "run_timeout": 120},
                       headers=alice.headers).get_json()
    assert moved["machine_id"] == other["id"] and moved["run_timeout"] == 120
    assert client.delete(f"/machine/{machine['id']}", headers=alice.headers).status_code == 204
    assert client.delete(f"/deployment/{deployment['id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/deployment/{deployment['id']}", headers=alice.headers).status_code == 204
    assert client.get(f"/deployment/{deployment['id']}", headers=alice.headers).status_code == 404


def test_org_objects_shared_by_members_only(app, client, acme, bob):
    from conftest import Tenant
    from comfydeploy.services import users
    machine = make_machine(client, acme)
    with app.app_context():
        users.add_member("Acme", "bob@example.com")
    bob_in_acme = Tenant(app, "bob@example.com", org="Acme")
    assert client.get(f"/machine/{machine['id']}", headers=bob_in_acme.headers).status_code == 200
    assert client.get(f"/machine/{machine['id']}", headers=bob.headers).status_code == 404
