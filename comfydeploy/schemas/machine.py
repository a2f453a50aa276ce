from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from ..models import MACHINE_GPUS, MACHINE_STATUSES, MACHINE_TYPES
from .common import BaseSchema


class MachineSchema(BaseSchema):
    id = fields.String(dump_only=True)
    user_id = fields.String(dump_only=True)
    org_id = fields.String(dump_only=True, allow_none=True)
    name = fields.String(validate=ma.validate.Length(min=1, max=200))
    endpoint = fields.String(metadata={"description": "Base URL of the ComfyUI machine, e.g. http://127.0.0.1:8188."})
    type = fields.String(validate=ma.validate.OneOf(MACHINE_TYPES))
    auth_token = fields.String(load_only=True, allow_none=True,
                               metadata={"description": "Bearer token for serverless endpoints. Write-only."})
    has_auth_token = fields.Method("_has_token", dump_only=True)
    disabled = fields.Boolean()
    status = fields.String(validate=ma.validate.OneOf(MACHINE_STATUSES))
    gpu = fields.String(allow_none=True, validate=ma.validate.OneOf(MACHINE_GPUS))
    snapshot = fields.Dict(allow_none=True)
    models = fields.List(fields.Dict(), allow_none=True)
    max_concurrency = fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=1000))
    last_seen_at = fields.DateTime(dump_only=True, allow_none=True)
    queue_size = fields.Integer(dump_only=True, allow_none=True)
    health_error = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def _has_token(self, machine) -> bool:
        return bool(machine.auth_token)


class MachineCreateSchema(MachineSchema):
    endpoint = fields.String(required=True)


class MachineUpdateSchema(MachineSchema):
    pass
