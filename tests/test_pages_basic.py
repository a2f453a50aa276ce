"""Login, logout, home, org switching, HTML error pages and CSRF."""
from test_auth_request import csrf_of, login


def test_login_logout(app, alice):
    client = app.test_client()
    assert client.get("/").status_code == 302
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/login", data={"email": "alice@example.com", "password": "wrong", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong email or password" in bad.get_data(as_text=True)
    login(client)
    home = client.get("/")
    assert home.status_code == 200 and "Welcome, alice" in home.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert client.get("/").status_code == 302


def test_login_without_csrf_is_refused(app, alice):
    client = app.test_client()
    response = client.post("/login", data={"email": "alice@example.com", "password": "correct horse battery"})
    assert response.status_code == 400
    assert "text/html" in response.content_type


def test_login_redirect_stays_on_site(app, alice):
    client = app.test_client()
    token = csrf_of(client, "/login")
    response = client.post("/login?next=//evil.example/x", data={
        "email": "alice@example.com", "password": "correct horse battery", "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_switch_to_foreign_org_is_403(app, alice, bob):
    from conftest import Tenant
    other = Tenant(app, "bob@example.com", org="Bobcorp")
    client = app.test_client()
    login(client)
    response = client.post("/org", data={"org_id": other.org_id, "csrf_token": csrf_of(client, "/")})
    assert response.status_code == 403 and "text/html" in response.content_type


def test_html_404_and_json_404(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "text/html" in page.content_type
    api = client.get("/api/no-such-endpoint")
    assert api.status_code == 404
    assert api.get_json() == {"code": 404, "status": "Not Found", "message": api.get_json()["message"]}


def test_openapi_and_swagger_served_locally(client):
    spec = client.get("/api/doc").get_json()
    paths = set(spec["paths"])
    for path in ("/api/workflow", "/api/workflow-version/{version_id}", "/api/auth-response/{request_id}",
                 "/api-key", "/api-key/{key_id}", "/machine", "/machine/{machine_id}", "/deployment",
                 "/deployment/{deployment_id}", "/internal", "/api/workflows", "/api/workflows/{workflow_id}"):
        assert path in paths, path
    ui = client.get("/api/docs")
    html = ui.get_data(as_text=True)
    assert ui.status_code == 200 and "/api/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert client.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_internal_doc(client):
    body = client.get("/internal").get_json()
    assert {e["path"] for e in body["endpoints"]} == {"/api/update-run", "/api/file-upload"}


def test_method_not_allowed_is_json(client, alice):
    response = client.patch("/machine", headers=alice.headers)
    assert response.status_code == 405 and response.get_json()["code"] == 405
