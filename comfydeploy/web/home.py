"""The home page: what is here and what to do next."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from ..auth import login_required, page_scope
from ..extensions import db
from ..models import ApiKey, Deployment, Machine, Run, Workflow

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    """Counts of what the current scope has, with next steps."""
    scope = page_scope()
    counts = {}
    for label, model in (("workflows", Workflow), ("machines", Machine), ("deployments", Deployment),
                         ("runs", Run)):
        counts[label] = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(scope.where(model)))
    counts["api_keys"] = db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey).where(
        scope.where(ApiKey), ApiKey.revoked_at.is_(None)))
    return render_template("home.html", counts=counts)
