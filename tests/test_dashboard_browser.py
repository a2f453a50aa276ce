"""The dashboard in a real headless Chromium: the whole journey, live progress, isolation, screenshots."""
import re

import pytest
import requests

from browser import PageWatch, screenshot
from conftest import sample_workflow_api
from live import Api, setup_deployment, wait_for, work

PASSWORD = "correct horse battery"


@pytest.fixture
def context(browser, live):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live.url)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    yield ctx
    ctx.close()


def log_in(page, email):
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_full_journey(app, live, context, sim, alice):
    sim.node_delay = 0.4
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, alice.email)
    screenshot(page, "home")

    # API key: create, read it once, copy it.
    page.click("nav >> text=API keys")
    page.fill("#key-create input[name=name]", "browser key")
    page.click("#key-create button[type=submit]")
    token = page.locator("#new-key").inner_text().strip()
    page.click("button[data-copy='#new-key']")
    page.wait_for_selector("text=Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert page.locator("#key-list").inner_text().count("browser key") == 1
    screenshot(page, "api-keys")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"

    # Machine pointing at the simulated machine; inline validation first.
    page.click("nav >> text=Machines")
    page.fill("#machine-form input[name=name]", "sim")
    page.fill("#machine-form input[name=endpoint]", "not a url")
    page.click("#machine-form button[type=submit]")
    page.wait_for_selector("#machine-form .field-error")
    assert "http" in page.locator("#machine-form .field-error").inner_text()
    page.fill("#machine-form input[name=endpoint]", sim.url)
    page.click("#machine-form button[type=submit]")
    page.wait_for_selector("#machine-table >> text=sim")
    from comfydeploy.tasks.maintenance import schedule_periodic_jobs
    with app.app_context():
        schedule_periodic_jobs()
    work(app)
    page.wait_for_selector("#machine-table [data-health]:has-text('ready')", timeout=15000)
    screenshot(page, "machines")

    # Push a workflow through the API with the copied key.
    pushed = api.post(f"{live.url}/api/workflow", json={"workflow_name": "Inverted squares",
                                                        "workflow_api": sample_workflow_api()}, timeout=10).json()
    page.click("nav >> text=Workflows")
    page.click("text=Inverted squares")
    screenshot(page, "workflow")

    # Deploy it, then check the deployment page's snippets use the real inputs.
    page.select_option("#deployments select[name=environment]", "production")
    page.click("#deployments button[type=submit]")
    page.wait_for_selector("#deployments >> text=Deployment saved.")
    page.click("#deployments >> text=production")
    snippet = page.locator("#snippet-curl").inner_text()
    assert '"prompt"' in snippet and '"steps"' in snippet and "/api/run" in snippet
    screenshot(page, "deployment")
    page.click("nav >> text=Deployments")
    screenshot(page, "deployments")

    # Run from the generated form, watch progress without a reload, see the image.
    page.goto(f"/workflows/{pushed['workflow_id']}")
    page.fill("textarea[name=input__prompt]", "a fox")
    page.fill("input[name=input__steps]", "7")
    page.click("#run-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]+$"))
    page.evaluate("window.__noReload = true")
    work(app)
    seen = set()

    def progressed():
        seen.add(page.locator("#run-live [role=progressbar]").get_attribute("aria-valuenow"))
        return page.locator("#run-live [data-status=success]").count() == 1

    wait_for(progressed, timeout=30, interval=0.1)
    assert page.evaluate("window.__noReload") is True  # updated in place by HTMX polling
    assert len(seen - {"0"}) >= 2, seen  # intermediate progress values were shown
    page.wait_for_selector("img[data-output-image]")
    assert page.evaluate("document.querySelector('img[data-output-image]').naturalWidth") == 64
    assert "a fox" in page.locator("main").inner_text()
    screenshot(page, "run")
    page.click("nav >> text=Runs")
    page.wait_for_selector("#runs-table [data-status=success]")
    screenshot(page, "runs")

    # Deleting the machine a deployment uses shows the 409 message inline.
    page.click("nav >> text=Machines")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#machine-table button.danger")
    page.wait_for_selector("#machine-table .notice.bad")
    assert "used by deployments" in page.locator("#machine-table .notice.bad").inner_text()

    # Phone width still works.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/runs")
    screenshot(page, "runs-phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert watch.errors == []


def test_failed_run_shows_node_errors(app, live, context, sim, alice):
    api = sample_workflow_api(text_input=False)
    del api["2"]["inputs"]["image"]
    session = requests.Session()
    session.headers.update(alice.headers)
    machine = session.post(f"{live.url}/machine", json={"name": "sim", "endpoint": sim.url}, timeout=10).json()
    pushed = session.post(f"{live.url}/api/workflow", json={"workflow_name": "broken", "workflow_api": api}, timeout=10).json()
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, alice.email)
    page.goto(f"/workflows/{pushed['workflow_id']}")
    page.select_option("#run-form select[name=machine_id]", machine["id"])
    page.click("#run-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]+$"))
    work(app)
    page.wait_for_selector("#run-live [data-status=failed]", timeout=20000)
    text = page.locator("#run-live").inner_text()
    assert "Required input is missing" in text and "ImageInvert" in text
    screenshot(page, "run-failed")
    assert watch.errors == []


def test_other_users_objects_are_not_visible(app, live, context, sim, alice, bob):
    session = requests.Session()
    session.headers.update(alice.headers)
    machine = session.post(f"{live.url}/machine", json={"name": "alice-machine", "endpoint": sim.url}, timeout=10).json()
    pushed = session.post(f"{live.url}/api/workflow", json={"workflow_name": "alice-flow",
                                                            "workflow_api": sample_workflow_api()}, timeout=10).json()
    deployment = session.post(f"{live.url}/deployment", json={"workflow_version_id": pushed["workflow_version_id"],
                                                              "machine_id": machine["id"], "environment": "staging"},
                              timeout=10).json()
    run_id = session.post(f"{live.url}/api/run", json={"deployment_id": deployment["id"]}, timeout=10).json()["run_id"]
    key = session.get(f"{live.url}/api-key", timeout=10).json()[0]
    page = context.new_page()
    watch = PageWatch(page)
    log_in(page, bob.email)
    for path in ("/machines", "/workflows", "/deployments", "/runs", "/api-keys"):
        page.goto(path)
        body = page.locator("main").inner_text()
        assert "alice" not in body and key["last4"] not in body, path
    for path in (f"/machines/{machine['id']}", f"/workflows/{pushed['workflow_id']}",
                 f"/deployments/{deployment['id']}", f"/runs/{run_id}"):
        response = page.goto(path)
        assert response.status == 404, path
        assert "404" in page.locator("h1").inner_text()
    screenshot(page, "not-found")
    # Forged state-changing requests: without CSRF they are refused, with it they still cannot reach Alice's rows.
    status = page.evaluate(f"fetch('/machines/{machine['id']}/delete', {{method: 'POST'}}).then(r => r.status)")
    assert status == 400
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    status = page.evaluate(
        f"fetch('/machines/{machine['id']}/delete', {{method: 'POST', headers: {{'X-CSRFToken': '{token}'}}}}).then(r => r.status)")
    assert status == 404
    assert session.get(f"{live.url}/machine/{machine['id']}", timeout=10).status_code == 200
    assert [e for e in watch.errors if "404" not in e and "400" not in e] == []


def test_org_switcher_scopes_pages(app, live, context, sim, acme):
    session = requests.Session()
    session.headers.update(acme.headers)
    session.post(f"{live.url}/machine", json={"name": "acme-machine", "endpoint": sim.url}, timeout=10)
    page = context.new_page()
    log_in(page, acme.email)
    page.goto("/machines")
    assert "acme-machine" not in page.locator("main").inner_text()
    with page.expect_navigation():
        page.select_option("select[name=org_id]", acme.org_id)
    page.goto("/machines")
    assert "acme-machine" in page.locator("main").inner_text()
    page.goto("/api-keys")
    page.fill("#key-create input[name=name]", "org key")
    page.click("#key-create button[type=submit]")
    token = page.locator("#new-key").inner_text().strip()
    import jwt
    assert jwt.decode(token, options={"verify_signature": False})["org_id"] == acme.org_id


def test_auth_request_page_in_browser(app, live, context, alice):
    page = context.new_page()
    page.goto("/auth-request/plugin-req-1")
    page.fill("input[name=email]", alice.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/auth-request/plugin-req-1$"))
    page.click("text=Grant access")
    page.wait_for_selector("text=Access granted")
    screenshot(page, "auth-request")
    assert requests.get(f"{live.url}/api/auth-response/plugin-req-1", timeout=10).status_code == 200


def test_webhooks_page_and_cancel_button(app, live, context, sim, alice):
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = True
    try:
        from test_run_control import Receiver
        receiver = Receiver()
        session = requests.Session()
        session.headers.update(alice.headers)
        sim.node_delay = 2
        page = context.new_page()
        watch = PageWatch(page)
        log_in(page, alice.email)
        page.click("nav >> text=Webhooks")
        page.fill("#webhooks-panel input[name=url]", receiver.url)
        page.check("#webhooks-panel input[value='run.cancelled']")
        page.click("#webhooks-panel button[type=submit]")
        secret = page.locator("#webhook-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        setup = setup_deployment(Api(live.url, alice.headers), sim.url, sample_workflow_api(text_input=False))
        run_id = session.post(f"{live.url}/api/run", json={"deployment_id": setup["deployment"]["id"]},
                              timeout=10).json()["run_id"]
        page.goto(f"/runs/{run_id}")
        page.wait_for_selector("[data-queue-position='1']")
        work(app)
        page.wait_for_selector("#run-live [data-status=running]", timeout=15000)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("text=Cancel run")
        page.wait_for_selector("#run-live [data-status=cancelled]")
        work(app)  # interrupt and the run.cancelled delivery
        page.goto("/webhooks")
        row = page.locator("tr[data-delivery]").first
        assert "run.cancelled" in row.inner_text() and "succeeded" in row.inner_text()
        assert receiver.events() == ["run.cancelled"]
        screenshot(page, "webhooks")
        page.click("tr[data-delivery] >> text=Redeliver")
        page.wait_for_selector("text=queued again")
        work(app)
        assert receiver.events() == ["run.cancelled", "run.cancelled"]
        assert watch.errors == []
        receiver.server.shutdown()
    finally:
        app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = False
