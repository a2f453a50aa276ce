"""End to end over real HTTP: API -> RQ worker -> simulated machine -> callbacks -> storage -> GET /api/run."""
import requests

from comfydeploy.simulator import png
from conftest import sample_workflow_api
from live import setup_deployment, wait_for_run, work


def test_run_succeeds_and_output_image_downloads(app, alice_api, sim):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api())
    response = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"],
                                                "inputs": {"prompt": "a dog", "steps": 12}})
    assert response.status_code == 200, response.text
    run_id = response.json()["run_id"]
    assert alice_api.get(f"/api/run?run_id={run_id}").json()["status"] == "not-started"
    work(app)
    run = wait_for_run(alice_api, run_id)
    assert run["status"] == "success", run
    assert run["progress"] == 1.0 and run["started_at"] and run["ended_at"]
    assert run["workflow_inputs"] == {"prompt": "a dog", "steps": 12}
    # What the machine received: unsubstituted workflow_api_raw + inputs + UI graph + cd_token.
    sent = sim.dispatches[0]
    assert sent["workflow_api_raw"]["4"]["inputs"]["input_id"] == "prompt"
    assert sent["inputs"] == {"prompt": "a dog", "steps": 12}
    assert sent["workflow"] == {"nodes": []} and sent["prompt_id"] == run_id and sent["cd_token"]
    assert sent["status_endpoint"].endswith("/api/update-run")
    images = [item for out in run["outputs"] for item in (out["data"].get("images", []) if isinstance(out["data"], dict) else [])]
    assert len(images) == 1
    image = requests.get(images[0]["url"], timeout=10)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    width, height, pixels = png.decode(image.content)
    assert (width, height) == (64, 64)
    # EmptyImage color 12321606 = (188, 3, 70), inverted by ImageInvert.
    assert pixels[:3] == bytes((255 - 188, 255 - 3, 255 - 70))
    timings = [out for out in run["outputs"] if out["kind"] == "timing"]
    assert len(timings) == 1 and run["node_timings"][0]["class_type"] == "EmptyImage"


def test_output_urls_are_private_and_expire(app, alice_api, sim, bob):
    setup = setup_deployment(alice_api, sim.url, sample_workflow_api(text_input=False))
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(app)
    run = wait_for_run(alice_api, run_id)
    url = run["outputs"][-1]["data"]["images"][0]["url"] if "images" in run["outputs"][-1]["data"] else \
        next(o for o in run["outputs"] if isinstance(o["data"], dict) and "images" in o["data"])["data"]["images"][0]["url"]
    assert "sig=" in url and "expires=" in url
    tampered = url.replace("expires=", "expires=1")
    assert requests.get(tampered, timeout=10).status_code == 403
    unsigned = url.split("?")[0]
    assert requests.get(unsigned, timeout=10).status_code == 403
    # The stable download_url given to the machine needs the owner's credentials.
    file_id = next(o for o in run["outputs"] if isinstance(o["data"], dict) and "images" in o["data"])["data"]["images"][0]["file_id"]
    base = alice_api.base
    assert requests.get(f"{base}/o/{file_id}", timeout=10, allow_redirects=False).status_code == 401
    assert requests.get(f"{base}/o/{file_id}", headers=bob.headers, timeout=10, allow_redirects=False).status_code == 404
    owner = alice_api.get(f"/o/{file_id}", allow_redirects=False)
    assert owner.status_code == 302 and "sig=" in owner.headers["Location"]


def test_text_output_uploaded_as_file(app, alice_api, sim):
    api = {"1": {"class_type": "ComfyUIDeployExternalText", "inputs": {"input_id": "input_text", "default_value": "hi"}},
           "2": {"class_type": "ComfyDeployOutputText", "inputs": {"text": ["1", 0], "filename_prefix": "peer_text",
                                                                     "file_type": "txt"}}}
    setup = setup_deployment(alice_api, sim.url, api)
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"],
                                              "inputs": {"input_text": "hello from the API"}}).json()["run_id"]
    work(app)
    run = wait_for_run(alice_api, run_id)
    assert run["status"] == "success"
    files = [o for o in run["outputs"] if isinstance(o["data"], dict) and "files" in o["data"]]
    assert files and files[0]["node_meta"]["node_id"] == "2"
    text = requests.get(files[0]["data"]["files"][0]["url"], timeout=10)
    assert text.content == b"hello from the API"


def test_preview_only_run_succeeds_from_ws_events(app, alice_api, sim):
    """The HEAD node never sends success without uploads; we infer it (reference §6.5)."""
    api = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
           "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    setup = setup_deployment(alice_api, sim.url, api)
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(app)
    run = wait_for_run(alice_api, run_id)
    assert run["status"] == "success"
    assert not any(c.get("body", {}) and c["body"].get("status") == "success" for c in sim.callbacks)


def test_invalid_prompt_fails_with_node_errors(app, alice_api, sim):
    api = sample_workflow_api(text_input=False)
    del api["2"]["inputs"]["image"]
    setup = setup_deployment(alice_api, sim.url, api)
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(app)
    run = wait_for_run(alice_api, run_id)
    assert run["status"] == "failed"
    assert "Invalid prompt" in run["error"] and "Required input is missing" in run["error"]
    errors = [o for o in run["outputs"] if o["kind"] == "error"]
    assert errors and "node_errors" in errors[0]["data"]["error"]


def test_unknown_node_class_fails_the_dispatch(app, alice_api, sim):
    api = sample_workflow_api(text_input=False)
    api["9"] = {"class_type": "NoSuchNode", "inputs": {}}
    setup = setup_deployment(alice_api, sim.url, api)
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(app)
    run = alice_api.get(f"/api/run?run_id={run_id}").json()
    assert run["status"] == "failed" and "NoSuchNode does not exist" in run["error"]


def test_runtime_error_fails_with_traceback(app, alice_api, sim, live):
    api = {"1": {"class_type": "ComfyUIDeployExternalImage", "inputs": {"input_id": "input_image"}},
           "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
           "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
    setup = setup_deployment(alice_api, sim.url, api)
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"],
                                              "inputs": {"input_image": f"{live.url}/does-not-exist.png"}}).json()["run_id"]
    work(app)
    run = wait_for_run(alice_api, run_id)
    assert run["status"] == "failed"
    assert run["error"].startswith("TypeError in node 2 (ImageInvert)")
    assert any(o["kind"] == "error" and "traceback" in o["data"] for o in run["outputs"])


def test_seed_workflow_gets_the_ui_graph(app, alice_api, sim):
    """A literal seed crashes the HEAD node unless the UI graph is sent (reference §13 item 9)."""
    api = sample_workflow_api(text_input=False)
    api["5"] = {"class_type": "KSampler", "inputs": {"seed": 42}}
    setup = setup_deployment(alice_api, sim.url, api, workflow={"nodes": [{"id": 5, "widgets_values": [42, "fixed"]}]})
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(app)
    assert wait_for_run(alice_api, run_id)["status"] == "success"


def test_image_input_from_upload_url(app, alice_api, sim):
    """An input uploaded through /api/upload-url is fetched by the machine via its download_url."""
    source = png.encode(png.solid(4, 4, 0x102030))
    upload = alice_api.get(f"/api/upload-url?type=image/png&file_size={len(source)}").json()
    put = requests.put(upload["upload_url"], data=source, headers={"Content-Type": "image/png"}, timeout=10)
    assert put.status_code == 200
    api = {"1": {"class_type": "ComfyUIDeployExternalImage", "inputs": {"input_id": "photo"}},
           "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
           "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}}}
    setup = setup_deployment(alice_api, sim.url, api)
    run_id = alice_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"],
                                              "inputs": {"photo": upload["download_url"]}}).json()["run_id"]
    work(app)
    run = wait_for_run(alice_api, run_id)
    assert run["status"] == "success", run
    image_out = next(o for o in run["outputs"] if isinstance(o["data"], dict) and "images" in o["data"])
    width, height, pixels = png.decode(requests.get(image_out["data"]["images"][0]["url"], timeout=10).content)
    assert (width, height) == (4, 4) and pixels[:3] == bytes((0xEF, 0xDF, 0xCF))
