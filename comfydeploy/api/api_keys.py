"""API keys of the caller's scope."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import api_auth, current_scope
from ..schemas.api_key import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema
from ..services import api_keys as service

blp = Blueprint("api_keys", __name__, url_prefix="/api-key", description="API keys")


@blp.route("")
class ApiKeyList(MethodView):
    decorators = [api_auth]

    @blp.response(200, ApiKeySchema(many=True))
    def get(self):
        """Active keys: name, last 4 characters, created and last used; never the key itself."""
        return service.list_api_keys(current_scope())

    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, data):
        """Create a key; the response is the only time the key is shown."""
        key, token = service.create_api_key(current_scope(), data["name"], data.get("expires_in"), source="api")
        key.key = token  # transient: never stored, only in this response
        return key


@blp.route("/<key_id>")
class ApiKeyDetail(MethodView):
    decorators = [api_auth]

    @blp.response(200, ApiKeySchema)
    def delete(self, key_id):
        """Revoke a key; the next request made with it gets 401."""
        return service.revoke_api_key(current_scope(), key_id)
