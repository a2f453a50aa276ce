"""/deployments: per workflow and environment, with code snippets that use the real input names."""
from __future__ import annotations

import json

from flask import Blueprint, render_template, request, url_for

from ..api.base_url import public_base_url
from ..auth import login_required, page_scope
from ..errors import AppError
from ..models import ENVIRONMENTS
from ..services import deployments as service
from ..services import machines as machine_service
from ..services import workflows as workflow_service
from ..services.inputs import input_schema
from ..services.run_list import list_runs
from .htmx import form_errors, hx_redirect, rejected

bp = Blueprint("deployments_page", __name__)


def _example_value(entry: dict):
    if entry.get("default_value") not in (None, ""):
        return entry["default_value"]
    return {"integer": 1, "number": 1.0, "boolean": True, "image": "https://example.com/input.png",
            "image_list": ["https://example.com/a.png"], "enum": (entry.get("options") or ["option"])[0]}.get(
        entry["type"], "text")


@bp.route("/deployments")
@login_required
def index():
    """Deployments grouped by workflow, with a form to create or update one."""
    scope = page_scope()
    deployments = service.list_deployments(scope)
    workflows, _ = workflow_service.list_workflows(scope, limit=100)
    versions = {w.id: workflow_service.version_summaries(w.id) for w in workflows}
    return render_template("deployments/index.html", deployments=deployments, workflows=workflows, versions=versions,
                           machines=[m for m in machine_service.list_machines(scope) if not m.disabled],
                           environments=ENVIRONMENTS, errors={})


@bp.route("/deployments", methods=["POST"])
@login_required
def create():
    """Create or update the deployment of (workflow, environment)."""
    scope = page_scope()
    try:
        deployment, _ = service.upsert_deployment(scope, request.form.get("workflow_version_id", ""),
                                                  request.form.get("machine_id", ""),
                                                  request.form.get("environment", ""))
    except AppError as exc:
        return render_template("deployments/_form_errors.html", errors=form_errors(exc) or {"form": exc.message}), rejected(422)
    return hx_redirect(url_for("deployments_page.detail", deployment_id=deployment.id))


@bp.route("/deployments/<deployment_id>")
@login_required
def detail(deployment_id: str):
    """One deployment: its inputs, code snippets and recent runs."""
    scope = page_scope()
    deployment = service.get_deployment(scope, deployment_id)
    version = service.version_for(deployment)
    inputs = input_schema(version.workflow_api)
    example = {entry["input_id"]: _example_value(entry) for entry in inputs}
    runs, _ = list_runs(scope, limit=10, deployment_id=deployment.id)
    return render_template("deployments/detail.html", deployment=deployment, version=version, inputs=inputs,
                           base_url=public_base_url(), inputs_json=json.dumps(example, indent=2),
                           body_json=json.dumps({"deployment_id": deployment.id, "inputs": example}),
                           runs=runs, machines=machine_service.list_machines(scope))


@bp.route("/deployments/<deployment_id>/delete", methods=["POST"])
@login_required
def delete(deployment_id: str):
    """Delete a deployment (its runs stay)."""
    service.delete_deployment(page_scope(), deployment_id)
    return hx_redirect(url_for("deployments_page.index"))
