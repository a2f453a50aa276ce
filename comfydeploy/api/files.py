"""Run inputs (presigned or multipart upload) and private output downloads."""
from __future__ import annotations

import marshmallow as ma
from flask import redirect, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..auth import Scope, api_auth, current_scope, page_scope
from ..errors import Invalid
from ..schemas.common import BaseSchema
from ..services import files as service
from ..services.run_views import signed_url
from .base_url import public_base_url

blp = Blueprint("files", __name__, description="Files: run inputs and outputs")


class UploadUrlArgsSchema(BaseSchema):
    type = fields.String(required=True, metadata={"description": "Content type, e.g. image/png, video/mp4, audio/wav."})
    file_size = fields.Integer(required=True, validate=ma.validate.Range(min=1),
                               metadata={"description": "Exact size in bytes; the upload must match it."})


class UploadedSchema(BaseSchema):
    upload_url = fields.String(allow_none=True)
    file_id = fields.String()
    download_url = fields.String(metadata={"description": "Signed URL a machine can fetch; use it as an image input."})


@blp.route("/api/upload-url")
class UploadUrl(MethodView):
    decorators = [api_auth]

    @blp.arguments(UploadUrlArgsSchema, location="query")
    @blp.response(200, UploadedSchema)
    def get(self, args):
        """A presigned PUT for an input file; then pass download_url as an input value."""
        return service.create_upload_url(current_scope(), args["type"], args["file_size"], public_base_url())


@blp.route("/file")
class FileUploadForm(MethodView):
    decorators = [api_auth]

    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}})
    @blp.response(201, UploadedSchema)
    def post(self):
        """Upload an input file in one multipart request (field `file`)."""
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("Send the file as multipart/form-data in the field 'file'", {"file": ["Missing file."]})
        return service.store_upload(current_scope(), upload.stream, upload.mimetype, public_base_url())


@blp.route("/o/<file_id>")
class OutputDownload(MethodView):

    @blp.response(302)
    def get(self, file_id):
        """Redirect the owner (API key or dashboard session) to a fresh signed URL of a file."""
        if request.headers.get("Authorization"):
            return api_auth(lambda: _redirect(current_scope(), file_id))()
        return _redirect(page_scope(), file_id)


def _redirect(scope: Scope, file_id: str):
    row = service.get_owned_file(scope, file_id)
    return redirect(signed_url(row, public_base_url()), code=302)
