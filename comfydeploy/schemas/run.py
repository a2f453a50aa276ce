from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from ..models import RUN_STATUSES
from .common import BaseSchema


class RunCreateSchema(BaseSchema):
    deployment_id = fields.String(required=True)
    inputs = fields.Dict(keys=fields.String(), load_default=None, allow_none=True,
                         metadata={"description": "{input_id: value}; see GET /deployment/<id>/inputs."})
    webhook = fields.String(load_default=None, allow_none=True,
                            metadata={"description": "URL that receives this run's events, signed with the secret "
                                                     "from GET /webhook/run-secret (Standard Webhooks)."})


class RunCreatedSchema(BaseSchema):
    run_id = fields.String()
    status = fields.String()


class RunEventsArgsSchema(BaseSchema):
    last_event_id = fields.Integer(load_default=None, allow_none=True,
                                   metadata={"description": "Resume after this event (or send Last-Event-ID)."})


class RunOutputSchema(BaseSchema):
    data = fields.Raw(allow_none=True)
    kind = fields.String(metadata={"description": "output, timing or error."})
    node_meta = fields.Dict(allow_none=True)
    created_at = fields.DateTime()


class RunSchema(BaseSchema):
    id = fields.String()
    status = fields.String(metadata={"enum": list(RUN_STATUSES)})
    workflow_id = fields.String()
    workflow_version_id = fields.String(allow_none=True)
    deployment_id = fields.String(allow_none=True)
    machine_id = fields.String(allow_none=True)
    origin = fields.String()
    workflow_inputs = fields.Dict()
    progress = fields.Float(allow_none=True)
    live_status = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    dispatched_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    node_timings = fields.Raw(allow_none=True)
    queue_position = fields.Integer(allow_none=True, metadata={"description": "1 = next to start on its machine; only while waiting."})
    estimated_start_at = fields.DateTime(allow_none=True)
    estimated_finish_at = fields.DateTime(allow_none=True)
    average_duration = fields.Float(allow_none=True, metadata={"description": "Seconds, over recent successful runs of the deployment."})
    outputs = fields.List(fields.Nested(RunOutputSchema))


class RunListArgsSchema(BaseSchema):
    limit = fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None, allow_none=True)
    deployment_id = fields.String(load_default=None, allow_none=True)
    workflow_id = fields.String(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(RUN_STATUSES))


class RunSummarySchema(RunSchema):
    class Meta(BaseSchema.Meta):
        exclude = ("outputs",)


class RunPageSchema(BaseSchema):
    items = fields.List(fields.Nested(RunSummarySchema))
    next_cursor = fields.String(allow_none=True)
