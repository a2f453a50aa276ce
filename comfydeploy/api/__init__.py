"""REST API: one smorest blueprint per resource."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_api(api: Api, app: Flask) -> None:
    from . import (api_keys, auth_response, callbacks, deployments, files, internal, machines, runs, storage_views,
                   volumes, webhooks, workflows)

    for module in (workflows, runs, files, auth_response, api_keys, machines, deployments, volumes, webhooks,
                   callbacks, internal):
        api.register_blueprint(module.blp)
    api.spec.components.security_scheme(
        "cdToken", {"type": "http", "scheme": "bearer", "description": "The run's cd_token (machines only)."})
    app.register_blueprint(storage_views.bp)
