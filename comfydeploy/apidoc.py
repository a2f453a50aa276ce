"""The smorest Api with our error shape, and Swagger UI served from the installed package (no CDN)."""
from __future__ import annotations

import swagger_ui_bundle
from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api

from .errors import handle_http_exception


class ComfyApi(Api):
    """smorest Api whose HTTP errors render as JSON under /api and as HTML pages elsewhere."""

    def handle_http_exception(self, error):
        return handle_http_exception(error)


def register_doc_assets(app: Flask) -> None:
    assets = Blueprint("apidoc_assets", __name__)

    @assets.route("/api/docs/assets/<path:filename>")
    def swagger_asset(filename: str):
        """Swagger UI's JS and CSS, from the swagger-ui-bundle package."""
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

    app.register_blueprint(assets)
