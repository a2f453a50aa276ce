"""HTML pages (Jinja + HTMX), over the same services as the API."""
from __future__ import annotations

from flask import Flask, session

from ..extensions import csrf


def register_web(app: Flask) -> None:
    from . import auth, deployments, home, keys, machines, runs, webhooks, workflows
    from .filters import register_filters

    for module in (auth, home, keys, machines, workflows, deployments, runs, webhooks):
        app.register_blueprint(module.bp)
    register_filters(app)

    @app.before_request
    def _csrf_for_pages():
        # Pages use cookie sessions, so every state-changing form needs the CSRF token.
        # API routes use bearer tokens (not sent by browsers on their own) and are exempt.
        from flask import request
        from ..errors import is_api_request
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not is_api_request(request):
            csrf.protect()

    @app.context_processor
    def _layout_context():
        from ..auth import current_user
        from ..services.users import memberships_of
        user = current_user()
        return {
            "current_user": user,
            "memberships": memberships_of(user.id) if user else [],
            "current_org_id": session.get("org_id"),
        }
