"""Model files in volumes: POST to download one, GET to list them with their status."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..auth import api_auth, current_scope
from ..schemas.common import BaseSchema
from ..services import volumes as service

blp = Blueprint("volumes", __name__, url_prefix="/volume", description="Model volumes")


class ModelRequestSchema(BaseSchema):
    volume = fields.String(load_default=None, allow_none=True)
    folder = fields.String(required=True, metadata={"description": "checkpoints, loras, vae, ..."})
    filename = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "http(s) URL to download from."})


class VolumeModelSchema(BaseSchema):
    id = fields.String()
    volume = fields.String()
    folder = fields.String()
    filename = fields.String()
    url = fields.String()
    status = fields.String(metadata={"description": "pending, downloading, ready or failed."})
    size = fields.Integer(allow_none=True)
    downloaded_bytes = fields.Integer()
    progress = fields.Method("_progress")
    sha256 = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)

    def _progress(self, model):
        if model.status == "ready":
            return 1.0
        return round(model.downloaded_bytes / model.size, 4) if model.size else None


class VolumeArgsSchema(BaseSchema):
    volume = fields.String(load_default=None, allow_none=True)


@blp.route("/model")
class VolumeModels(MethodView):
    decorators = [api_auth]

    @blp.arguments(VolumeArgsSchema, location="query")
    @blp.response(200, VolumeModelSchema(many=True))
    def get(self, args):
        """Models of your volumes with their download status."""
        return service.list_models(current_scope(), args.get("volume"))

    @blp.arguments(ModelRequestSchema)
    @blp.response(202, VolumeModelSchema)
    def post(self, data):
        """Download a model from a URL into a volume folder (in the background)."""
        return service.request_model(current_scope(), data["folder"], data["filename"], data["url"], data.get("volume"))
