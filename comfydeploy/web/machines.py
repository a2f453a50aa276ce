"""/machines: list with live health, create, edit, disable, delete, detail with recent runs."""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request, url_for

from ..auth import login_required, page_scope
from ..errors import AppError
from ..models import MACHINE_TYPES
from ..services import machines as service
from ..services.run_list import list_runs
from .htmx import form_errors, rejected, page_or_partial

bp = Blueprint("machines_page", __name__)


def _form_fields() -> dict:
    fields = {k: request.form.get(k, "").strip() for k in ("name", "endpoint", "type", "auth_token",
                                                           "max_concurrency")}
    data = {"name": fields["name"], "endpoint": fields["endpoint"], "type": fields["type"] or "classic"}
    if fields["auth_token"]:
        data["auth_token"] = fields["auth_token"]
    if fields["max_concurrency"]:
        try:
            data["max_concurrency"] = int(fields["max_concurrency"])
        except ValueError:
            raise AppError("max_concurrency must be a whole number", {"max_concurrency": ["Must be a number."]},
                           status_code=422)
    return data


@bp.route("/machines")
@login_required
def index():
    """All machines of the scope with a self-refreshing health badge."""
    machines = service.list_machines(page_scope())
    return page_or_partial("machines/index.html", "machines/_table.html", machines=machines, types=MACHINE_TYPES,
                           errors={}, form={})


@bp.route("/machines", methods=["POST"])
@login_required
def create():
    """Register a machine; validation errors show next to the fields."""
    scope = page_scope()
    try:
        service.create_machine(scope, **_form_fields())
    except AppError as exc:
        return render_template("machines/_form.html", errors=form_errors(exc) or {"form": exc.message},
                               form=request.form, types=MACHINE_TYPES), rejected(422)
    response = make_response(render_template("machines/_form.html", errors={}, form={}, types=MACHINE_TYPES))
    response.headers["HX-Trigger"] = "machines-changed"
    return response


@bp.route("/machines/table")
@login_required
def table():
    """The machines table alone (polled for health)."""
    return render_template("machines/_table.html", machines=service.list_machines(page_scope()))


@bp.route("/machines/<machine_id>")
@login_required
def detail(machine_id: str):
    """One machine: settings form and its recent runs."""
    scope = page_scope()
    machine = service.get_machine(scope, machine_id)
    runs, _ = list_runs(scope, limit=20, machine_id=machine.id)
    return render_template("machines/detail.html", machine=machine, runs=runs, types=MACHINE_TYPES, errors={},
                           saved=False)


@bp.route("/machines/<machine_id>", methods=["POST"])
@login_required
def update(machine_id: str):
    """Save a machine's settings."""
    scope = page_scope()
    machine = service.get_machine(scope, machine_id)
    try:
        machine = service.update_machine(scope, machine_id, **_form_fields())
    except AppError as exc:
        return render_template("machines/_edit.html", machine=machine, types=MACHINE_TYPES,
                               errors=form_errors(exc) or {"form": exc.message}, saved=False), rejected(422)
    return render_template("machines/_edit.html", machine=machine, types=MACHINE_TYPES, errors={}, saved=True)


@bp.route("/machines/<machine_id>/toggle", methods=["POST"])
@login_required
def toggle(machine_id: str):
    """Disable or enable a machine."""
    scope = page_scope()
    machine = service.get_machine(scope, machine_id)
    service.update_machine(scope, machine_id, disabled=not machine.disabled)
    return render_template("machines/_table.html", machines=service.list_machines(scope))


@bp.route("/machines/<machine_id>/delete", methods=["POST"])
@login_required
def delete(machine_id: str):
    """Delete a machine; when a deployment uses it the 409 message shows inline."""
    scope = page_scope()
    try:
        service.delete_machine(scope, machine_id)
    except AppError as exc:
        if exc.status_code != 409:
            raise
        if request.form.get("from") == "detail":
            machine = service.get_machine(scope, machine_id)
            return render_template("machines/_edit.html", machine=machine, types=MACHINE_TYPES,
                                   errors={"form": exc.message}, saved=False), rejected(409)
        return render_template("machines/_table.html", machines=service.list_machines(scope),
                               row_error={"id": machine_id, "message": exc.message}), rejected(409)
    if request.headers.get("HX-Request") and request.form.get("from") == "detail":
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url_for("machines_page.index")
        return response
    return render_template("machines/_table.html", machines=service.list_machines(scope))
