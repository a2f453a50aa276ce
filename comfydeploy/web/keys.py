"""/api-keys: list, create (token shown once), revoke."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..auth import login_required, page_scope
from ..errors import AppError
from ..services import api_keys as service
from .htmx import form_errors, rejected, page_or_partial

bp = Blueprint("keys", __name__)


@bp.route("/api-keys")
@login_required
def index():
    """API keys of the current scope."""
    return page_or_partial("keys/index.html", "keys/_list.html", keys=service.list_api_keys(page_scope()))


@bp.route("/api-keys", methods=["POST"])
@login_required
def create():
    """Create a key and show it once."""
    scope = page_scope()
    name = request.form.get("name", "").strip()
    try:
        key, token = service.create_api_key(scope, name, source="dashboard")
    except AppError as exc:
        return render_template("keys/_create.html", errors=form_errors(exc), name=name,
                               keys=service.list_api_keys(scope)), rejected(422)
    return render_template("keys/_create.html", created=key, token=token, errors={},
                           keys=service.list_api_keys(scope))


@bp.route("/api-keys/<key_id>/revoke", methods=["POST"])
@login_required
def revoke(key_id: str):
    """Revoke a key; it stops working on the next request."""
    scope = page_scope()
    service.revoke_api_key(scope, key_id)
    return render_template("keys/_list.html", keys=service.list_api_keys(scope))
