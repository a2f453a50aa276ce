"""/webhooks: endpoints with event filters, secrets shown once, the delivery log and redelivery."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..api.base_url import public_base_url
from ..auth import login_required, page_scope
from ..errors import AppError
from ..models import WEBHOOK_EVENTS
from ..services import webhooks as service
from .htmx import form_errors, rejected

bp = Blueprint("webhooks_page", __name__)


def _context(scope, **extra):
    deliveries = service.list_deliveries(scope, limit=50)
    return {"endpoints": service.list_endpoints(scope), "deliveries": deliveries,
            "attempts": service.attempts_of([d.id for d in deliveries]), "events": WEBHOOK_EVENTS,
            "run_secret": service.run_webhook_secret(scope.user_id, scope.org_id), "errors": {}, "form": {},
            "base_url": public_base_url(), **extra}


@bp.route("/webhooks")
@login_required
def index():
    """Webhook endpoints and recent deliveries."""
    return render_template("webhooks/index.html", **_context(page_scope()))


@bp.route("/webhooks", methods=["POST"])
@login_required
def create():
    """Add an endpoint and show its secret once."""
    scope = page_scope()
    try:
        endpoint = service.create_endpoint(scope, request.form.get("url", ""), request.form.getlist("events"),
                                           request.form.get("description"))
    except AppError as exc:
        return render_template("webhooks/_panel.html", **_context(scope, errors=form_errors(exc) or {"form": exc.message},
                                                                  form=request.form)), rejected(422)
    return render_template("webhooks/_panel.html", **_context(scope, secret_for=endpoint))


@bp.route("/webhooks/<endpoint_id>/rotate", methods=["POST"])
@login_required
def rotate(endpoint_id: str):
    """Replace an endpoint's secret and show the new one once."""
    scope = page_scope()
    endpoint = service.rotate_secret(scope, endpoint_id)
    return render_template("webhooks/_panel.html", **_context(scope, secret_for=endpoint))


@bp.route("/webhooks/<endpoint_id>/toggle", methods=["POST"])
@login_required
def toggle(endpoint_id: str):
    """Pause or resume an endpoint."""
    scope = page_scope()
    endpoint = service.get_endpoint(scope, endpoint_id)
    service.update_endpoint(scope, endpoint_id, enabled=not endpoint.enabled)
    return render_template("webhooks/_panel.html", **_context(scope))


@bp.route("/webhooks/<endpoint_id>/delete", methods=["POST"])
@login_required
def delete(endpoint_id: str):
    """Delete an endpoint with its delivery log."""
    scope = page_scope()
    service.delete_endpoint(scope, endpoint_id)
    return render_template("webhooks/_panel.html", **_context(scope))


@bp.route("/webhooks/deliveries/<delivery_id>/redeliver", methods=["POST"])
@login_required
def redeliver(delivery_id: str):
    """Send a finished delivery again."""
    scope = page_scope()
    try:
        service.redeliver(scope, delivery_id)
    except AppError as exc:
        if exc.status_code != 409:
            raise
        return render_template("webhooks/_panel.html", **_context(scope, errors={"form": exc.message})), rejected(409)
    return render_template("webhooks/_panel.html", **_context(scope, redelivered=delivery_id))
