"""HTMX helpers: one URL per resource state, a partial when HX-Request is set."""
from __future__ import annotations

from typing import Any

from flask import render_template, request

from ..errors import AppError


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def page_or_partial(page: str, partial: str, **context: Any):
    """The whole page for a normal visit, the fragment for an HTMX request."""
    return render_template(partial if is_htmx() else page, **context)


def form_errors(exc: AppError) -> dict[str, str]:
    """Flatten an AppError's per-field errors into {field: message} for inline display."""
    errors: dict[str, str] = {}
    for field, value in (exc.errors or {}).items():
        if isinstance(value, dict):
            for inner, messages in value.items():
                errors[inner] = " ".join(messages) if isinstance(messages, list) else str(messages)
        elif isinstance(value, list):
            errors[field] = " ".join(str(v) for v in value)
        else:
            errors[field] = str(value)
    return errors


def rejected(code: int) -> int:
    """Status for a form answered with inline errors: 200 for HTMX (the fragment carries the
    errors and browsers log no failed request), the real 4xx for plain form posts."""
    return 200 if is_htmx() else code


def hx_redirect(url: str):
    """An empty answer telling HTMX to load another page."""
    from flask import make_response
    response = make_response("", 204)
    response.headers["HX-Redirect"] = url
    return response
