from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from .common import BaseSchema


class ApiKeySchema(BaseSchema):
    id = fields.String(dump_only=True)
    name = fields.String()
    org_id = fields.String(allow_none=True, dump_only=True)
    last4 = fields.String(dump_only=True, metadata={"description": "Last 4 characters of the key."})
    source = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(allow_none=True, dump_only=True)
    expires_at = fields.DateTime(allow_none=True, dump_only=True)
    revoked_at = fields.DateTime(allow_none=True, dump_only=True)


class ApiKeyCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    expires_in = fields.Integer(load_default=None, allow_none=True, validate=ma.validate.Range(min=60),
                                metadata={"description": "Lifetime in seconds; omit for a key that never expires."})


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(dump_only=True, metadata={"description": "The API key. Shown only in this response."})
