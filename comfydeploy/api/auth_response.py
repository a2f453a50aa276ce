"""The plugin login poll (reference §10.1): no auth, the request id is the secret."""
from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from ..services import auth_requests

blp = Blueprint("auth_response", __name__, url_prefix="/api", description="ComfyUI plugin login")


@blp.route("/auth-response/<request_id>")
class AuthResponse(MethodView):

    @blp.doc(security=[], responses={
        "200": {"description": "Granted: {api_key, name}, exactly once."},
        "201": {"description": "{message: 'Not ready yet.'} or {message: 'Already used.'}"}})
    def get(self, request_id):
        """Poll for the key a user granted at /auth-request/<request_id>."""
        status, body = auth_requests.respond(request_id)
        response = jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response
