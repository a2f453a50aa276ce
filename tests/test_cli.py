"""flask users / orgs / api-keys commands."""


def test_user_org_key_lifecycle(app, runner, client):
    result = runner.invoke(args=["users", "create", "carol@example.com", "--password", "s3cret-pass", "--name", "Carol",
                                 "--admin"])
    assert result.exit_code == 0, result.output
    assert "[admin]" in result.output
    duplicate = runner.invoke(args=["users", "create", "carol@example.com", "--password", "s3cret-pass"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=["users", "create", "dave@example.com", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output
    assert "carol@example.com" in runner.invoke(args=["users", "list"]).output

    assert runner.invoke(args=["orgs", "create", "Studio", "--owner", "carol@example.com"]).exit_code == 0
    runner.invoke(args=["users", "create", "erin@example.com", "--password", "s3cret-pass"])
    added = runner.invoke(args=["orgs", "add-member", "Studio", "erin@example.com"])
    assert added.exit_code == 0 and "member of Studio" in added.output

    made = runner.invoke(args=["api-keys", "create", "--user", "carol@example.com", "--name", "deploy"])
    assert made.exit_code == 0
    token = made.output.strip().splitlines()[-1]
    assert client.get("/api/workflows", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    org_key = runner.invoke(args=["api-keys", "create", "--user", "erin@example.com", "--name", "o", "--org", "Studio"])
    assert org_key.exit_code == 0
    org_token = org_key.output.strip().splitlines()[-1]
    assert client.get("/machine", headers={"Authorization": f"Bearer {org_token}"}).status_code == 200
    outsider = runner.invoke(args=["api-keys", "create", "--user", "carol@example.com", "--name", "o", "--org", "Nope"])
    assert outsider.exit_code != 0

    listing = runner.invoke(args=["api-keys", "list", "--user", "carol@example.com"]).output
    assert "deploy" in listing and token not in listing
    key_id = listing.split()[0]
    assert runner.invoke(args=["api-keys", "revoke", key_id]).exit_code == 0
    assert client.get("/api/workflows", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "revoked" in runner.invoke(args=["api-keys", "list", "--user", "carol@example.com"]).output
    assert runner.invoke(args=["api-keys", "revoke", "nope"]).exit_code != 0
