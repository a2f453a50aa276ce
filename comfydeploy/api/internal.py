"""GET /internal: the machine-facing API, documented for people wiring up machines."""
from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

blp = Blueprint("internal", __name__, url_prefix="/internal", description="Machine-facing API documentation")

MACHINE_API = {
    "summary": "Endpoints a ComfyUI machine running the comfyui-deploy custom node calls back. "
               "They authenticate with the per-run cd_token sent in the run request, as "
               "'Authorization: Bearer <cd_token>'.",
    "dispatch": {
        "classic": "POST {machine.endpoint}/comfyui-deploy/run with JSON {workflow_api_raw, inputs, workflow, "
                   "prompt_id (= run id), status_endpoint, file_upload_endpoint, cd_token, gpu_event_id}",
        "serverless": "POST {machine.endpoint}/run with {\"input\": <the same object>} "
                      "(runpod-serverless adds 'Authorization: Bearer <machine.auth_token>')",
    },
    "endpoints": [
        {
            "method": "POST", "path": "/api/update-run",
            "body": "{run_id, status?, output_data?, node_meta?, ws_event?, live_status?, progress?, log_data?, "
                    "gpu_event_id?}; unknown keys are ignored",
            "statuses": ["not-started", "running", "uploading", "success", "failed", "cancelled"],
            "rules": ["Statuses only move forward; success, failed, cancelled and timeout are final.",
                      "Each output_data body is stored as one output row, also after the run ended.",
                      "success is inferred from ws_event execution_success / executing {node: null} "
                      "when the run produced no uploadable media (the HEAD node never sends it then)."],
            "responses": {"200": "{message: 'success'}", "401": "missing or wrong cd_token",
                          "404": "unknown run", "413": "body too large", "422": "malformed body"},
        },
        {
            "method": "GET", "path": "/api/file-upload",
            "query": "file_name, run_id, type (content type), version=v2 (optional)",
            "responses": {"200": "application/json {url, download_url, include_acl, is_public}: PUT the bytes to "
                                 "url with the same Content-Type and a Content-Length"},
        },
    ],
}


@blp.route("")
class InternalDoc(MethodView):

    @blp.doc(security=[])
    def get(self):
        """How machines talk to this platform: dispatch request and callbacks."""
        return jsonify(MACHINE_API)
