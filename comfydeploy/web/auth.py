"""Log in, log out, switch organisation, and the plugin's grant page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for

from ..auth import current_user, login_required, page_scope
from ..errors import AppError, Forbidden
from ..services import auth_requests, users

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never redirect to another host after login.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Email + password login."""
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        user = users.authenticate(email, request.form.get("password", ""))
        if user is None:
            error = "Wrong email or password."
        else:
            session.clear()
            session["user_id"] = user.id
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, email=email), 401 if error else 200


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session."""
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/org", methods=["POST"])
@login_required
def switch_org():
    """Choose the organisation (or personal space) every page acts in."""
    org_id = request.form.get("org_id") or None
    user = current_user()
    if org_id and not users.is_member(user.id, org_id):
        raise Forbidden("You are not a member of that organisation")
    session["org_id"] = org_id
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/auth-request/<request_id>", methods=["GET", "POST"])
@login_required
def auth_request(request_id: str):
    """Grant the ComfyUI plugin an API key for the current scope."""
    scope = page_scope()
    row = auth_requests.get_auth_request(request_id)
    granted = False
    error = None
    if request.method == "POST":
        try:
            row = auth_requests.grant(request_id, scope)
            granted = True
        except AppError as exc:
            error = exc.message
    name = users.scope_display_name(scope.user_id, scope.org_id)
    return render_template("auth/request.html", request_id=request_id, row=row, granted=granted, error=error,
                           scope_name=name)
