"""The S3 backend over real HTTP against moto's server mode: runs, uploads and private downloads."""
import io

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from comfydeploy import create_app
from comfydeploy.simulator import png
from comfydeploy.storage import get_storage
from conftest import TMP, app_env, sample_workflow_api
from live import Api, LiveServer, setup_deployment, wait_for_run, work

BUCKET = "comfydeploy-test"


@pytest.fixture(scope="module")
def moto():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3_app(app, moto):
    env = app_env(STORAGE_BACKEND="s3", S3_BUCKET=BUCKET, S3_ENDPOINT_URL=moto, S3_ACCESS_KEY_ID="testing",
                   S3_SECRET_ACCESS_KEY="testing", S3_REGION="us-east-1")
    s3_app = create_app(overrides={"EMBEDDED_REDIS_PATH": str(TMP / "redis.db")}, env=env)
    boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return s3_app


@pytest.fixture(scope="module")
def s3_live(s3_app):
    server = LiveServer(s3_app)
    yield server
    server.stop()


@pytest.fixture
def s3_api(s3_live, alice):
    return Api(s3_live.url, alice.headers)


def test_run_outputs_go_to_s3_and_come_back_signed(s3_app, s3_api, sim, moto):
    setup = setup_deployment(s3_api, sim.url, sample_workflow_api(text_input=False))
    run_id = s3_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"]}).json()["run_id"]
    work(s3_app)
    run = wait_for_run(s3_api, run_id)
    assert run["status"] == "success", run
    image = next(o for o in run["outputs"] if isinstance(o["data"], dict) and "images" in o["data"])["data"]["images"][0]
    assert image["url"].startswith(f"{moto}/{BUCKET}/outputs/runs/{run_id}/") and "X-Amz-Signature" in image["url"]
    body = requests.get(image["url"], timeout=10).content
    assert png.decode(body)[:2] == (64, 64)
    # The machine's PUT went to S3 through the presigned URL with the node's headers.
    assert any(c["method"] == "PUT" and c["url"].startswith(moto) and c["status"] == 200 for c in sim.callbacks)
    with s3_app.app_context():
        assert get_storage().size(f"outputs/runs/{run_id}/sim_run_00001_.png") == len(body)


def test_input_upload_url_and_multipart_on_s3(s3_app, s3_api, sim, moto):
    source = png.encode(png.solid(2, 2, 0xFFFFFF))
    upload = s3_api.get(f"/api/upload-url?type=image/png&file_size={len(source)}").json()
    assert upload["upload_url"].startswith(moto)
    put = requests.put(upload["upload_url"], data=source, headers={"Content-Type": "image/png"}, timeout=10)
    assert put.status_code == 200, put.text
    assert requests.get(upload["download_url"], timeout=10).content == source
    form = s3_api.post("/file", files={"file": ("a.png", io.BytesIO(source), "image/png")}).json()
    assert requests.get(form["download_url"], timeout=10).content == source
    api = {"1": {"class_type": "ComfyUIDeployExternalImage", "inputs": {"input_id": "photo"}},
           "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
           "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}}}
    setup = setup_deployment(s3_api, sim.url, api)
    run_id = s3_api.post("/api/run", json={"deployment_id": setup["deployment"]["id"],
                                           "inputs": {"photo": upload["download_url"]}}).json()["run_id"]
    work(s3_app)
    run = wait_for_run(s3_api, run_id)
    image = next(o for o in run["outputs"] if isinstance(o["data"], dict) and "images" in o["data"])["data"]["images"][0]
    assert png.decode(requests.get(image["url"], timeout=10).content)[2][:3] == b"\0\0\0"


def test_storage_interface_on_s3(s3_app, moto):
    with s3_app.app_context():
        storage = get_storage()
        storage.put_file("inputs/private.txt", io.BytesIO(b"secret"), "text/plain")
        assert storage.read("inputs/private.txt") == b"secret"
        signed = storage.presign_get("inputs/private.txt", "", 60)
        storage.delete("inputs/gone.txt")
        assert storage.size("inputs/gone.txt") is None
    assert requests.get(signed, timeout=10).content == b"secret"
    # No public-read ACL is ever set: anonymous reads are refused.
    acl = boto3.client("s3", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing",
                       region_name="us-east-1").get_object_acl(Bucket=BUCKET, Key="inputs/private.txt")
    assert not any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in acl["Grants"])
