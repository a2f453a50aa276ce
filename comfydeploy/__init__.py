"""comfydeploy: run ComfyUI workflows as a reliable HTTP API."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from .config import ROOT_DIR, load_config


def create_app(overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Flask:
    """Build the app: config, extensions, API, pages, CLI. No I/O beyond reading config."""
    app = Flask(__name__, template_folder=str(ROOT_DIR / "templates"), static_folder=str(ROOT_DIR / "static"),
                instance_path=str(ROOT_DIR / "instance"), instance_relative_config=True)
    app.config.update(load_config(Path(app.instance_path), env))
    if overrides:
        app.config.update(overrides)
    app.session_interface = CookieOnlyWhenSentSessionInterface()

    from .auth import configure_jwt
    from .extensions import csrf, db, jwt, migrate
    from .rate_limits import validate_limits
    validate_limits(app.config)
    configure_jwt(app)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT_DIR / "migrations"))
    jwt.init_app(app)  # issues API keys; requests are checked by auth.authenticate_api_request
    csrf.init_app(app)
    _sqlite_foreign_keys(app)

    from .queue import init_queue
    init_queue(app)

    from .api import register_api
    from .apidoc import ComfyApi, register_doc_assets
    api = ComfyApi(app)
    register_api(api, app)
    register_doc_assets(app)
    app.extensions["comfydeploy_api"] = api

    from .web import register_web
    register_web(app)

    from .errors import register_error_handlers
    register_error_handlers(app)
    _register_cors(app)

    from .cli import register_cli
    register_cli(app)
    return app


class CookieOnlyWhenSentSessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, without building its serializer for requests that carry no cookie
    (API calls and machine callbacks: every one of them would pay for it otherwise)."""

    def open_session(self, app: Flask, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _sqlite_foreign_keys(app: Flask) -> None:
    """SQLite ignores foreign keys unless asked; ask, so cascades behave as on PostgreSQL."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()


# Every /api response names who may read it and which headers scripts may see; the methods, request
# headers and cache lifetime matter to preflights only (browsers ignore them elsewhere), so only
# preflight answers carry them.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, "
                                     "X-RateLimit-Reset",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Last-Event-ID",
    "Access-Control-Max-Age": "600",
}


def _register_cors(app: Flask) -> None:
    """CORS on /api/* for the ComfyUI plugin (reference §4.13); preflights never need auth."""

    @app.before_request
    def _preflight():
        if request.method == "OPTIONS" and request.path.startswith("/api/"):
            response = app.response_class(status=204)
            response.headers.update(PREFLIGHT_HEADERS)
            return response
        return None

    @app.after_request
    def _cors(response):
        if request.path.startswith("/api/") and "Access-Control-Allow-Origin" not in response.headers:
            response.headers.extend(CORS_HEADERS)
        return response
