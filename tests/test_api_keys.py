"""GET/POST /api-key and DELETE /api-key/<id>."""


def test_create_shows_token_once_and_list_never_does(client, alice):
    response = client.post("/api-key", json={"name": "ci"}, headers=alice.headers)
    assert response.status_code == 201
    created = response.get_json()
    assert created["key"].count(".") == 2 and created["last4"] == created["key"][-4:]
    listed = client.get("/api-key", headers=alice.headers).get_json()
    assert {k["name"] for k in listed} == {"ci", "key of alice@example.com"}
    assert all("key" not in k for k in listed)
    assert created["key"] not in str(listed)
    assert {"id", "name", "created_at", "last_used_at", "last4"} <= set(listed[0])


def test_create_validates(client, alice):
    response = client.post("/api-key", json={}, headers=alice.headers)
    assert response.status_code == 422
    assert "name" in response.get_json()["errors"]["json"]
    response = client.post("/api-key", json={"name": "x", "expires_in": 5}, headers=alice.headers)
    assert response.status_code == 422


def test_revoke_is_scoped_and_idempotent(client, alice, bob):
    created = client.post("/api-key", json={"name": "mine"}, headers=alice.headers).get_json()
    assert client.delete(f"/api-key/{created['id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/api-key/{created['id']}", headers=alice.headers).status_code == 200
    assert client.delete(f"/api-key/{created['id']}", headers=alice.headers).status_code == 200
    listed = client.get("/api-key", headers=alice.headers).get_json()
    assert created["id"] not in {k["id"] for k in listed}


def test_org_and_personal_keys_are_separate(client, alice, acme):
    client.post("/api-key", json={"name": "org key"}, headers=acme.headers)
    personal = {k["name"] for k in client.get("/api-key", headers=alice.headers).get_json()}
    org = {k["name"] for k in client.get("/api-key", headers=acme.headers).get_json()}
    assert "org key" in org and "org key" not in personal
