"""Machine callbacks: POST /api/update-run and GET /api/file-upload, authenticated by the run's cd_token."""
from __future__ import annotations

import json

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import Invalid
from ..services import callbacks as service

SUCCESS = b'{"message":"success"}\n'  # what the node waits for, built once: this answers every ComfyUI event

blp = Blueprint("callbacks", __name__, url_prefix="/api", description="Machine callbacks (see GET /internal)")


@blp.route("/update-run")
class UpdateRun(MethodView):

    @blp.doc(security=[{"cdToken": []}], requestBody={"content": {"application/json": {"schema": {"type": "object"}}}})
    def post(self):
        """Status, outputs, live status, logs and ComfyUI events of a run, as the comfyui-deploy node sends them."""
        request.max_content_length = current_app.config["CALLBACK_MAX_BYTES"]
        try:
            body = json.loads(request.get_data(cache=False))
        except ValueError:
            raise Invalid("Body must be JSON")
        run_id = service.accept_update(body, request.headers.get("Authorization"))
        if run_id is not None:
            if current_app.config["CALLBACK_PROCESSING"] == "stream":
                from ..services.callback_stream import push
                push(run_id, body)
            else:
                service.apply_accepted(run_id, body)
        return Response(SUCCESS, mimetype="application/json")


@blp.route("/file-upload")
class FileUpload(MethodView):

    @blp.doc(security=[{"cdToken": []}], parameters=[
        {"in": "query", "name": n, "required": n != "version", "schema": {"type": "string"}}
        for n in ("file_name", "run_id", "type", "version")])
    def get(self):
        """A presigned PUT URL for one output file of a run."""
        args = request.args
        return jsonify(service.issue_output_upload(args.get("run_id"), args.get("file_name"), args.get("type"),
                                                   request.headers.get("Authorization")))
