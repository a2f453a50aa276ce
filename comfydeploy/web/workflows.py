"""/workflows: list, detail with versions, inputs, a generated run form, and deploy."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, url_for

from ..api.base_url import public_base_url
from ..auth import login_required, page_scope
from ..errors import AppError
from ..models import ENVIRONMENTS
from ..services import deployments as deployment_service
from ..services import files as file_service
from ..services import machines as machine_service
from ..services import runs as run_service
from ..services import workflows as service
from ..services.inputs import input_schema
from ..services.run_list import list_runs
from .htmx import form_errors, hx_redirect, rejected

bp = Blueprint("workflows_page", __name__)


@bp.route("/workflows")
@login_required
def index():
    """Workflows of the scope, newest first."""
    scope = page_scope()
    rows, next_cursor = service.list_workflows(scope, limit=50, cursor=request.args.get("cursor"))
    latest = service.latest_versions([w.id for w in rows])
    return render_template("workflows/index.html", workflows=rows, latest=latest, next_cursor=next_cursor)


def _chosen_version(scope, workflow_id: str, version_number: int | None):
    """(workflow, its version summaries, the version asked for or the latest)."""
    workflow = service.get_workflow(scope, workflow_id)
    versions = service.version_summaries(workflow.id)
    if not versions:
        abort(404)
    chosen = next((v for v in versions if v["version"] == version_number), versions[0])
    return workflow, versions, service.get_version(scope, chosen["id"])


def _context(scope, workflow_id: str, version_number: int | None = None) -> dict[str, Any]:
    workflow, versions, version = _chosen_version(scope, workflow_id, version_number)
    machines = [m for m in machine_service.list_machines(scope) if not m.disabled]
    runs, _ = list_runs(scope, limit=10, workflow_id=workflow.id)
    return {"workflow": workflow, "versions": versions, "version": version, "inputs": input_schema(version.workflow_api),
            "machines": machines, "deployments": deployment_service.list_deployments(scope, workflow.id),
            "environments": ENVIRONMENTS, "runs": runs, "errors": {}, "values": {}}


@bp.route("/workflows/<workflow_id>")
@login_required
def detail(workflow_id: str):
    """A workflow: pick a version, see its inputs, run it, deploy it."""
    version = request.args.get("version", type=int)
    return render_template("workflows/detail.html", **_context(page_scope(), workflow_id, version))


def _coerce_form(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn form strings into the JSON types the input schema asks for (empty = use the default)."""
    values: dict[str, Any] = {}
    for entry in inputs:
        name = entry["input_id"]
        if entry["type"] == "boolean":
            if f"input__{name}__present" in request.form:
                values[name] = request.form.get(f"input__{name}") == "on"
            continue
        raw = request.form.get(f"input__{name}", "")
        if raw == "":
            continue
        if entry["type"] in ("number", "integer"):
            try:
                values[name] = float(raw) if entry["type"] == "number" else int(raw)
            except ValueError:
                values[name] = raw  # the schema check reports it next to the field
        else:
            values[name] = raw
    return values


@bp.route("/workflows/<workflow_id>/run", methods=["POST"])
@login_required
def run(workflow_id: str):
    """Start a run from the generated form, then open the run's page."""
    scope = page_scope()
    version_number = request.form.get("version", type=int)
    _, _, version = _chosen_version(scope, workflow_id, version_number)
    values = _coerce_form(input_schema(version.workflow_api))
    try:
        created = run_service.create_manual_run(scope, version.id, request.form.get("machine_id", ""), values,
                                                public_base_url())
    except AppError as exc:
        # Only a refused run re-renders the form, so only then load the rest of the page's context.
        context = _context(scope, workflow_id, version_number)
        context.update(errors=form_errors(exc) or {"form": exc.message}, values=request.form)
        return render_template("workflows/_run_form.html", **context), rejected(422)
    return hx_redirect(url_for("runs_page.detail", run_id=created.id))


@bp.route("/workflows/<workflow_id>/upload", methods=["POST"])
@login_required
def upload(workflow_id: str):
    """Store an input file for the run form; answers the download_url the run will use."""
    scope = page_scope()
    service.get_workflow(scope, workflow_id)
    upload_file = request.files.get("file")
    if upload_file is None:
        return jsonify(message="Choose a file first"), rejected(422)
    try:
        stored = file_service.store_upload(scope, upload_file.stream, upload_file.mimetype, public_base_url())
    except AppError as exc:
        return jsonify(message=exc.message), exc.status_code
    return jsonify(stored)


@bp.route("/workflows/<workflow_id>/deploy", methods=["POST"])
@login_required
def deploy(workflow_id: str):
    """Create or update the deployment of this workflow in an environment."""
    scope = page_scope()
    context = _context(scope, workflow_id, request.form.get("version", type=int))
    try:
        deployment_service.upsert_deployment(scope, context["version"].id, request.form.get("machine_id", ""),
                                             request.form.get("environment", ""))
    except AppError as exc:
        context.update(deploy_errors=form_errors(exc) or {"form": exc.message})
        return render_template("workflows/_deployments.html", **context), rejected(422)
    context["deployments"] = deployment_service.list_deployments(scope, workflow_id)
    return render_template("workflows/_deployments.html", deployed=True, **context)


@bp.route("/workflows/<workflow_id>/delete", methods=["POST"])
@login_required
def delete(workflow_id: str):
    """Delete a workflow with its versions, deployments and runs."""
    service.delete_workflow(page_scope(), workflow_id)
    return hx_redirect(url_for("workflows_page.index"))
