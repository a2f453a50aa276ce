"""/runs: paginated list, and a detail page whose status polls itself until the run ends."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..api.base_url import public_base_url
from ..auth import login_required, page_scope
from ..services import runs as service
from ..services.run_list import list_runs
from ..services.run_views import run_view
from .htmx import page_or_partial

bp = Blueprint("runs_page", __name__)


@bp.route("/runs")
@login_required
def index():
    """Runs, newest first; filter by workflow or deployment."""
    scope = page_scope()
    filters = {k: request.args.get(k) or None for k in ("workflow_id", "deployment_id", "status")}
    runs, next_cursor = list_runs(scope, limit=25, cursor=request.args.get("cursor"), **filters)
    return page_or_partial("runs/index.html", "runs/_table.html", runs=runs, next_cursor=next_cursor, filters=filters)


@bp.route("/runs/<run_id>")
@login_required
def detail(run_id: str):
    """One run: inputs, live progress, outputs by type, errors, timings."""
    run = service.get_run(page_scope(), run_id)
    return render_template("runs/detail.html", run=run, view=run_view(run, public_base_url()))


@bp.route("/runs/<run_id>/cancel", methods=["POST"])
@login_required
def cancel(run_id: str):
    """Cancel a queued or running run; the live part re-renders."""
    run = service.cancel_run(page_scope(), run_id)
    return render_template("runs/_live.html", run=run, view=run_view(run, public_base_url()))


@bp.route("/runs/<run_id>/live")
@login_required
def live(run_id: str):
    """The live part of the run page; stops polling once the run has ended."""
    run = service.get_run(page_scope(), run_id)
    return render_template("runs/_live.html", run=run, view=run_view(run, public_base_url()))
