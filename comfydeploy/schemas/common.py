"""Base schema and shared shapes."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class BaseSchema(ma.Schema):
    class Meta:
        # Clients (the ComfyUI plugin especially) send extra keys; ignore them like the original did.
        unknown = ma.EXCLUDE


class MessageSchema(BaseSchema):
    message = fields.String(required=True)


class PageArgsSchema(BaseSchema):
    limit = fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100),
                           metadata={"description": "Page size (1-100)."})
    cursor = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "next_cursor from the previous page."})
