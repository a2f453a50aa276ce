"""REST API: one smorest blueprint per resource."""
from __future__ import annotations

from flask_smorest import Api


def register_api(api: Api) -> None:
    from . import api_keys, auth_response, deployments, internal, machines, workflows

    for module in (workflows, auth_response, api_keys, machines, deployments, internal):
        api.register_blueprint(module.blp)
