"""The plugin login handshake: 201 until granted, one 200 with a key, then 201 Already used."""
from concurrent.futures import ThreadPoolExecutor



def login(client, email="alice@example.com", password="correct horse battery"):
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return token


def csrf_of(client, path):
    html = client.get(path).get_data(as_text=True)
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def test_handshake(app, alice):
    client = app.test_client()
    assert client.get("/api/auth-response/req-123").status_code == 201
    assert client.get("/api/auth-response/req-123").get_json() == {"message": "Not ready yet."}
    login(client)
    token = csrf_of(client, "/auth-request/req-123")
    page = client.post("/auth-request/req-123", data={"csrf_token": token})
    assert page.status_code == 200 and "Access granted" in page.get_data(as_text=True)
    plugin = app.test_client()
    granted = plugin.get("/api/auth-response/req-123")
    assert granted.status_code == 200
    body = granted.get_json()
    assert set(body) == {"api_key", "name"} and body["name"] == "alice"
    assert granted.headers["Access-Control-Allow-Origin"] == "*"
    assert plugin.get("/api/auth-response/req-123").get_json() == {"message": "Already used."}
    # The minted key works, is listed and is revocable.
    headers = {"Authorization": f"Bearer {body['api_key']}"}
    assert plugin.get("/api/workflows", headers=headers).status_code == 200
    keys = plugin.get("/api-key", headers=headers).get_json()
    plugin_key = next(k for k in keys if k["source"] == "plugin")
    assert plugin_key["expires_at"] is not None
    plugin.delete(f"/api-key/{plugin_key['id']}", headers=alice.headers)
    assert plugin.get("/api/workflows", headers=headers).status_code == 401
    # The page now says the request was used.
    assert "already used" in client.get("/auth-request/req-123").get_data(as_text=True)


def test_concurrent_polls_mint_one_key(app, alice):
    client = app.test_client()
    login(client)
    client.post("/auth-request/race", data={"csrf_token": csrf_of(client, "/auth-request/race")})
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: app.test_client().get("/api/auth-response/race").status_code, range(6)))
    assert codes.count(200) == 1 and codes.count(201) == 5


def test_grant_requires_login_and_csrf(app, alice):
    client = app.test_client()
    response = client.get("/auth-request/abc")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client)
    assert client.post("/auth-request/abc", data={}).status_code == 400
    assert app.test_client().get("/api/auth-response/abc").get_json() == {"message": "Not ready yet."}


def test_grant_in_org_scope(app, acme):
    client = app.test_client()
    login(client)
    client.post("/org", data={"org_id": acme.org_id, "csrf_token": csrf_of(client, "/")})
    client.post("/auth-request/org-req", data={"csrf_token": csrf_of(client, "/auth-request/org-req")})
    body = app.test_client().get("/api/auth-response/org-req").get_json()
    assert body["name"] == "Acme"
    import jwt
    assert jwt.decode(body["api_key"], options={"verify_signature": False})["org_id"] == acme.org_id


def test_bad_request_id(client):
    response = client.get("/api/auth-response/" + "x" * 200)
    assert response.status_code == 422
