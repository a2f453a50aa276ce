"""API key authentication: each failure mode answers 401 with a message saying which."""
import time

import jwt as pyjwt



def test_missing_header_is_401(client):
    response = client.get("/api/workflows")
    assert response.status_code == 401
    body = response.get_json()
    assert body["code"] == 401 and body["status"] == "Unauthorized"
    assert "Missing" in body["message"]


def test_malformed_token_is_401(client):
    response = client.get("/api/workflows", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.get_json()["message"].startswith("Malformed API key")


def test_forged_signature_is_401(client, alice):
    claims = pyjwt.decode(alice.token, options={"verify_signature": False})
    forged = pyjwt.encode(claims, "some-other-secret-that-is-long-enough-0123", algorithm="HS256")
    response = client.get("/api/workflows", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert "signature verification failed" in response.get_json()["message"]


def test_alg_none_is_401(client, alice):
    claims = pyjwt.decode(alice.token, options={"verify_signature": False})
    unsigned = pyjwt.encode(claims, key=None, algorithm="none")
    response = client.get("/api/workflows", headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401
    assert "only HS256" in response.get_json()["message"]


def test_expired_key_is_401(app, client, alice):
    response = client.post("/api-key", json={"name": "short", "expires_in": 60}, headers=alice.headers)
    assert response.status_code == 201
    token = response.get_json()["key"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    # Re-sign the same key with an exp in the past, as if a minute had gone by.
    claims["exp"] = int(time.time()) - 1
    expired = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    response = client.get("/api/workflows", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.get_json()["message"] == "API key has expired"


def test_revoked_key_refused_on_next_request(client, alice):
    created = client.post("/api-key", json={"name": "temp"}, headers=alice.headers).get_json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/workflows", headers=headers).status_code == 200
    assert client.delete(f"/api-key/{created['id']}", headers=alice.headers).status_code == 200
    response = client.get("/api/workflows", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["message"] == "API key has been revoked"


def test_key_claims(alice):
    claims = pyjwt.decode(alice.token, options={"verify_signature": False})
    assert claims["user_id"] == alice.user_id
    assert claims["jti"] == alice.key_id
    assert "iat" in claims and "org_id" not in claims


def test_org_key_claims_and_membership(app, client, acme):
    claims = pyjwt.decode(acme.token, options={"verify_signature": False})
    assert claims["org_id"] == acme.org_id
    assert client.get("/api/workflows", headers=acme.headers).status_code == 200
    # Removing the membership stops the key from speaking for the organisation.
    from comfydeploy.extensions import db
    from comfydeploy.models import Membership
    with app.app_context():
        db.session.execute(Membership.__table__.delete())
        db.session.commit()
    assert client.get("/api/workflows", headers=acme.headers).status_code == 401


def test_tampered_claims_with_valid_signature_are_refused(app, client, alice, bob):
    """A key re-signed (with the real secret) for another user does not match its stored hash."""
    claims = pyjwt.decode(alice.token, options={"verify_signature": False})
    claims["user_id"] = bob.user_id
    other = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    assert client.get("/api/workflows", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_last_used_is_recorded(client, alice):
    client.get("/api/workflows", headers=alice.headers)
    keys = client.get("/api-key", headers=alice.headers).get_json()
    assert keys[0]["last_used_at"] is not None


def test_preflight_needs_no_auth(client):
    response = client.options("/api/workflow", headers={
        "Origin": "http://localhost:8188", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_cors_header_on_api_responses(client, alice):
    response = client.get("/api/workflows", headers=alice.headers)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/api/workflows").headers["Access-Control-Allow-Origin"] == "*"
    # Scripts may read the rate-limit headers; preflight-only headers stay on preflights.
    assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Max-Age" not in response.headers


def test_key_not_valid_yet_is_401(app, client, alice):
    claims = pyjwt.decode(alice.token, options={"verify_signature": False})
    claims["nbf"] = int(time.time()) + 3600
    early = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    response = client.get("/api/workflows", headers={"Authorization": f"Bearer {early}"})
    assert response.status_code == 401 and "not valid yet" in response.get_json()["message"]


def test_garbage_segments_are_401_not_500(client):
    for token in ("a.b.c", "!!.??.##", "eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2ln"):
        response = client.get("/api/workflows", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
