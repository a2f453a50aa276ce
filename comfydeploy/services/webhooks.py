"""Webhooks signed with the Standard Webhooks scheme, delivered by RQ with bounded retries.

Headers: webhook-id (the delivery id, the same on every retry), webhook-timestamp (unix seconds),
webhook-signature "v1,<base64 HMAC-SHA256(secret, f'{id}.{timestamp}.{body}')>", where the key is
the base64-decoded part of the "whsec_..." secret."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta
from typing import Any

import requests
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..auth import Scope
from ..errors import Conflict, Invalid
from ..extensions import autocommit_connection, db
from ..models import WEBHOOK_EVENTS, Run, RunOutput, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..models.base import new_id, utcnow
from .scoped import get_owned
from .urls import check_http_url, host_is_private


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def run_webhook_secret(user_id: str, org_id: str | None) -> str:
    """Secret signing per-run `webhook` URLs of a scope (derived, so nothing to store)."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"run-webhook:{user_id}:{org_id or ''}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _check_events(events: Any) -> list[str]:
    if events is None or events == []:
        return list(WEBHOOK_EVENTS)
    if not isinstance(events, list) or any(e not in WEBHOOK_EVENTS for e in events):
        raise Invalid(f"events must be a list of: {', '.join(WEBHOOK_EVENTS)}",
                      {"events": [f"Each must be one of: {', '.join(WEBHOOK_EVENTS)}."]})
    return sorted(set(events), key=WEBHOOK_EVENTS.index)


def check_target(url: Any, field: str = "url") -> str:
    url = check_http_url(url, field)
    if not current_app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] and host_is_private(url):
        raise Invalid(f"{field} points at a private or loopback address", {field: ["Private addresses are refused."]})
    return url


# ---- endpoints -----------------------------------------------------------------------------------

def create_endpoint(scope: Scope, url: str, events: list[str] | None = None,
                    description: str | None = None) -> WebhookEndpoint:
    """Register an endpoint for the scope's run events; its secret is shown in this answer."""
    endpoint = WebhookEndpoint(user_id=scope.user_id, org_id=scope.org_id, url=check_target(url),
                               events=_check_events(events), description=(description or "")[:500] or None,
                               secret=new_secret(), enabled=True)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def list_endpoints(scope: Scope) -> list[WebhookEndpoint]:
    return list(db.session.scalars(sa.select(WebhookEndpoint).where(scope.where(WebhookEndpoint))
                                   .order_by(WebhookEndpoint.created_at.desc())))


def get_endpoint(scope: Scope, endpoint_id: str) -> WebhookEndpoint:
    return get_owned(WebhookEndpoint, endpoint_id, scope, "Webhook endpoint")


def update_endpoint(scope: Scope, endpoint_id: str, **fields: Any) -> WebhookEndpoint:
    endpoint = get_endpoint(scope, endpoint_id)
    if "url" in fields:
        endpoint.url = check_target(fields["url"])
    if "events" in fields:
        endpoint.events = _check_events(fields["events"])
    if "description" in fields:
        endpoint.description = (fields["description"] or "")[:500] or None
    if "enabled" in fields:
        endpoint.enabled = bool(fields["enabled"])
    db.session.commit()
    return endpoint


def rotate_secret(scope: Scope, endpoint_id: str) -> WebhookEndpoint:
    """Replace the signing secret; deliveries from now on use the new one."""
    endpoint = get_endpoint(scope, endpoint_id)
    endpoint.secret = new_secret()
    db.session.commit()
    return endpoint


def delete_endpoint(scope: Scope, endpoint_id: str) -> None:
    db.session.delete(get_endpoint(scope, endpoint_id))
    db.session.commit()


# ---- deliveries ----------------------------------------------------------------------------------

def _destinations_query() -> sa.Select:
    # Built once: the run and its scope's enabled endpoints in one outer join. This runs after every
    # status change and output of every run, and most runs have no webhook at all: one autocommit
    # round trip answers "nothing to send" (it was BEGIN, two selects and ROLLBACK).
    runs, endpoints = Run.__table__.c, WebhookEndpoint.__table__.c
    same_scope = Scope.same_tenant(endpoints, runs)
    return (sa.select(runs.id, runs.user_id, runs.org_id, runs.webhook_url, endpoints.id.label("endpoint_id"),
                      endpoints.url.label("endpoint_url"), endpoints.events.label("endpoint_events"))
            .select_from(Run.__table__.outerjoin(
                WebhookEndpoint.__table__, sa.and_(same_scope, endpoints.enabled.is_(True))))
            .where(runs.id == sa.bindparam("run_id")).order_by(endpoints.created_at))


DESTINATIONS_QUERY = _destinations_query()


def _destination_rows(run_id: str) -> list[Any]:
    with autocommit_connection() as conn:
        return conn.execute(DESTINATIONS_QUERY, {"run_id": run_id}).all()


def trigger(run_id: str, event_type: str, extra: dict[str, Any] | None = None) -> list[str]:
    """Create one delivery per destination that wants this event, then queue them (after commit)."""
    rows = _destination_rows(run_id)
    if not rows:
        return []
    run = rows[0]
    destinations: list[tuple[str | None, str]] = []
    if run.webhook_url:
        destinations.append((None, run.webhook_url))
    for row in rows:
        if row.endpoint_id is not None and event_type in (row.endpoint_events or []):
            destinations.append((row.endpoint_id, row.endpoint_url))
    if not destinations:
        return []
    payload = {"type": event_type, "timestamp": utcnow().isoformat(), "data": {"run_id": run.id, **(extra or {})}}
    created = []
    for endpoint_id, url in destinations:
        dedupe = f"{endpoint_id or 'run'}:{run.id}:{event_type}:{(extra or {}).get('output_id', '')}"
        delivery = WebhookDelivery(id="msg_" + new_id().replace("-", ""), endpoint_id=endpoint_id, run_id=run.id,
                                   user_id=run.user_id, org_id=run.org_id, dedupe_key=dedupe[:300], url=url,
                                   event_type=event_type, payload=payload, status="pending")
        savepoint = db.session.begin_nested()
        try:
            db.session.add(delivery)
            savepoint.commit()
            created.append(delivery.id)
        except IntegrityError:
            savepoint.rollback()  # already triggered once: never send the same event twice
    db.session.commit()
    from ..tasks.webhooks import enqueue_delivery
    for delivery_id in created:
        enqueue_delivery(delivery_id)
    return created


def _body(delivery: WebhookDelivery) -> str:
    """The JSON sent: the stored event plus the run as it is now (output URLs signed at send time)."""
    from .run_views import run_view, sign_outputs
    payload = dict(delivery.payload)
    data = dict(payload.get("data") or {})
    run = db.session.get(Run, delivery.run_id) if delivery.run_id else None
    if run is not None:
        base = run.callback_base_url
        data["run"] = run_view(run, base, include_outputs=delivery.event_type == "run.succeeded")
        output = db.session.get(RunOutput, data["output_id"]) if data.get("output_id") else None
        if output is not None:
            data["output"] = sign_outputs(run, [output], base)[0]
    payload["data"] = data
    return json.dumps(payload, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v),
                      separators=(",", ":"))


def deliver(delivery_id: str) -> str:
    """One delivery attempt; failures are retried with bounded exponential backoff."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return "skipped"
    if delivery.endpoint_id:
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            delivery.status = "failed"
            db.session.add(WebhookAttempt(delivery_id=delivery.id, error="Endpoint disabled or deleted"))
            db.session.commit()
            return "failed"
        secret = endpoint.secret
    else:
        secret = run_webhook_secret(delivery.user_id, delivery.org_id)
    body = _body(delivery)
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "comfydeploy-webhooks",
               "webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(secret, delivery.id, timestamp, body)}
    url = delivery.url
    db.session.commit()  # no transaction open while waiting on the receiver
    started = time.perf_counter()
    status_code = error = None
    try:
        if not current_app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] and host_is_private(url):
            raise ValueError("refused: the URL points at a private or loopback address")
        response = requests.post(url, data=body.encode(), headers=headers,
                                 timeout=(5, current_app.config["WEBHOOK_TIMEOUT"]), allow_redirects=False)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"receiver answered {status_code}"
    except (requests.RequestException, ValueError) as exc:
        error = str(exc)[:500]
    latency = int((time.perf_counter() - started) * 1000)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    delivery.attempts += 1
    delivery.last_status_code = status_code
    db.session.add(WebhookAttempt(delivery_id=delivery.id, status_code=status_code, latency_ms=latency, error=error))
    delays = current_app.config["WEBHOOK_RETRY_DELAYS"]
    if error is None:
        delivery.status, delivery.next_attempt_at = "succeeded", None
    elif delivery.attempts <= len(delays):
        delay = delays[delivery.attempts - 1]
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
        db.session.commit()
        from ..tasks.webhooks import enqueue_delivery
        enqueue_delivery(delivery.id, delay=delay)
        return "retrying"
    else:
        delivery.status, delivery.next_attempt_at = "failed", None
    db.session.commit()
    return delivery.status


def list_deliveries(scope: Scope, endpoint_id: str | None = None, run_id: str | None = None,
                    limit: int = 50) -> list[WebhookDelivery]:
    query = sa.select(WebhookDelivery).where(scope.where(WebhookDelivery))
    if endpoint_id:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if run_id:
        query = query.where(WebhookDelivery.run_id == run_id)
    return list(db.session.scalars(query.order_by(WebhookDelivery.created_at.desc()).limit(limit)))


def attempts_of(delivery_ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    result: dict[str, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        for attempt in db.session.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
                                          .order_by(WebhookAttempt.attempted_at)):
            result[attempt.delivery_id].append(attempt)
    return result


def redeliver(scope: Scope, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again now (after it succeeded or gave up)."""
    delivery = get_owned(WebhookDelivery, delivery_id, scope, "Delivery")
    if delivery.status == "pending":
        raise Conflict("This delivery is still being attempted")
    delivery.status = "pending"
    db.session.commit()
    from ..tasks.webhooks import enqueue_delivery
    enqueue_delivery(delivery.id, manual=True)
    return delivery
