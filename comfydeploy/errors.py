"""Domain errors and the one error shape: JSON {code, status, message, errors} for the API, HTML for pages."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Flask, Request, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

# First path segments served as JSON APIs; everything else is a page.
API_SEGMENTS = frozenset({"api", "api-key", "machine", "deployment", "internal", "volume", "file", "storage", "o",
                          "webhook"})


def is_api_request(req: Request | None = None) -> bool:
    req = req or request
    segment = req.path.lstrip("/").split("/", 1)[0]
    return segment in API_SEGMENTS


class AppError(Exception):
    """A failure a caller can fix; carries the HTTP status and a readable message."""

    status_code = 400

    def __init__(self, message: str, errors: dict[str, Any] | None = None, status_code: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Invalid(AppError):
    status_code = 422


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


def error_payload(code: int, message: str, errors: Any = None) -> dict[str, Any]:
    try:
        status = HTTPStatus(code).phrase
    except ValueError:
        status = "Error"
    body: dict[str, Any] = {"code": code, "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


def json_error(code: int, message: str, errors: Any = None, headers: dict[str, str] | None = None):
    response = jsonify(error_payload(code, message, errors))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def html_error(code: int, message: str):
    template = f"errors/{code}.html" if code in (403, 404) else "errors/generic.html"
    try:
        status = HTTPStatus(code).phrase
    except ValueError:
        status = "Error"
    return render_template(template, code=code, status=status, message=message), code


def render_error(code: int, message: str, errors: Any = None, headers: dict[str, str] | None = None):
    if is_api_request():
        return json_error(code, message, errors, headers)
    return html_error(code, message)


def handle_http_exception(exc: HTTPException):
    """Render werkzeug/smorest HTTP errors in the shape the path calls for."""
    data = getattr(exc, "data", None) or {}
    message = data.get("message") or exc.description or HTTPStatus(exc.code).phrase
    errors = data.get("messages") or data.get("errors")
    headers = dict(data.get("headers") or {})
    if exc.code == 413 and not data.get("message"):
        message = "Request body is too large"
    if exc.code == 405:
        headers.update({k: v for k, v in exc.get_headers() if k == "Allow"})
    response = render_error(exc.code or 500, message, errors, headers)
    return response


def register_error_handlers(app: Flask) -> None:
    from .extensions import db

    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        db.session.rollback()
        return render_error(exc.status_code, exc.message, exc.errors, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return handle_http_exception(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render_error(500, "Internal server error")
