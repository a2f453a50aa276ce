"""Webhook endpoints, their deliveries with every attempt, redelivery, and secrets."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from ..auth import api_auth, current_scope
from ..models import WEBHOOK_EVENTS
from ..schemas.common import BaseSchema
from ..services import webhooks as service

blp = Blueprint("webhooks", __name__, url_prefix="/webhook",
                description="Webhooks (Standard Webhooks signatures: webhook-id, webhook-timestamp, webhook-signature)")


class WebhookEndpointSchema(BaseSchema):
    id = fields.String(dump_only=True)
    url = fields.String()
    description = fields.String(allow_none=True)
    events = fields.List(fields.String(validate=ma.validate.OneOf(WEBHOOK_EVENTS)),
                         metadata={"description": f"Any of {', '.join(WEBHOOK_EVENTS)}; empty = all."})
    enabled = fields.Boolean()
    secret_hint = fields.Method("_hint", dump_only=True)
    created_at = fields.DateTime(dump_only=True)

    def _hint(self, endpoint) -> str:
        return endpoint.secret[:10] + "…"


class WebhookEndpointCreateSchema(WebhookEndpointSchema):
    url = fields.String(required=True)


class WebhookSecretSchema(WebhookEndpointSchema):
    secret = fields.String(dump_only=True, metadata={"description": "whsec_… signing secret; shown only here."})


class AttemptSchema(BaseSchema):
    attempted_at = fields.DateTime()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class DeliverySchema(BaseSchema):
    id = fields.String()
    endpoint_id = fields.String(allow_none=True)
    run_id = fields.String(allow_none=True)
    url = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending, succeeded or failed."})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    attempt_log = fields.List(fields.Nested(AttemptSchema))


class DeliveryArgsSchema(BaseSchema):
    endpoint_id = fields.String(load_default=None, allow_none=True)
    run_id = fields.String(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class RunSecretSchema(BaseSchema):
    secret = fields.String()


def _with_attempts(deliveries):
    attempts = service.attempts_of([d.id for d in deliveries])
    for delivery in deliveries:
        delivery.attempt_log = attempts[delivery.id]
    return deliveries


@blp.route("")
class WebhookList(MethodView):
    decorators = [api_auth]

    @blp.response(200, WebhookEndpointSchema(many=True))
    def get(self):
        """Your webhook endpoints."""
        return service.list_endpoints(current_scope())

    @blp.arguments(WebhookEndpointCreateSchema)
    @blp.response(201, WebhookSecretSchema)
    def post(self, data):
        """Add an endpoint; the answer carries its signing secret (shown only here and on rotation)."""
        return service.create_endpoint(current_scope(), data["url"], data.get("events"), data.get("description"))


@blp.route("/run-secret")
class RunSecret(MethodView):
    decorators = [api_auth]

    @blp.response(200, RunSecretSchema)
    def get(self):
        """The secret that signs deliveries to per-run `webhook` URLs of your scope."""
        scope = current_scope()
        return {"secret": service.run_webhook_secret(scope.user_id, scope.org_id)}


@blp.route("/deliveries")
class DeliveryList(MethodView):
    decorators = [api_auth]

    @blp.arguments(DeliveryArgsSchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    def get(self, args):
        """Deliveries, newest first, each with its attempt log (time, status code, latency, error)."""
        return _with_attempts(service.list_deliveries(current_scope(), args.get("endpoint_id"), args.get("run_id"),
                                                      args["limit"]))


@blp.route("/deliveries/<delivery_id>/redeliver")
class Redeliver(MethodView):
    decorators = [api_auth]

    @blp.response(202, DeliverySchema)
    def post(self, delivery_id):
        """Send a finished delivery again."""
        return _with_attempts([service.redeliver(current_scope(), delivery_id)])[0]


@blp.route("/<endpoint_id>")
class WebhookDetail(MethodView):
    decorators = [api_auth]

    @blp.response(200, WebhookEndpointSchema)
    def get(self, endpoint_id):
        """One endpoint."""
        return service.get_endpoint(current_scope(), endpoint_id)

    @blp.arguments(WebhookEndpointSchema)
    @blp.response(200, WebhookEndpointSchema)
    def put(self, data, endpoint_id):
        """Change url, events, description or enabled."""
        return service.update_endpoint(current_scope(), endpoint_id, **data)

    @blp.response(204)
    def delete(self, endpoint_id):
        """Delete an endpoint with its delivery log."""
        service.delete_endpoint(current_scope(), endpoint_id)


@blp.route("/<endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    decorators = [api_auth]

    @blp.response(200, WebhookSecretSchema)
    def post(self, endpoint_id):
        """Replace the signing secret; the answer carries the new one."""
        return service.rotate_secret(current_scope(), endpoint_id)
