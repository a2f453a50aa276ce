from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from ..models import ENVIRONMENTS
from .common import BaseSchema


class ShowcaseItemSchema(BaseSchema):
    url = fields.String(required=True)
    isCover = fields.Boolean(load_default=False)


class DeploymentSchema(BaseSchema):
    id = fields.String(dump_only=True)
    user_id = fields.String(dump_only=True)
    org_id = fields.String(dump_only=True, allow_none=True)
    workflow_id = fields.String(dump_only=True)
    workflow_version_id = fields.String()
    machine_id = fields.String()
    environment = fields.String(validate=ma.validate.OneOf(ENVIRONMENTS))
    share_slug = fields.String(dump_only=True, allow_none=True)
    description = fields.String(allow_none=True, validate=ma.validate.Length(max=10000))
    showcase_media = fields.List(fields.Nested(ShowcaseItemSchema), allow_none=True)
    run_timeout = fields.Integer(allow_none=True, metadata={"description": "Seconds a run may take on the machine before it ends as timeout."})
    queue_ttl = fields.Integer(allow_none=True, metadata={"description": "Seconds a run may wait for dispatch before it ends as timeout."})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class DeploymentCreateSchema(DeploymentSchema):
    workflow_version_id = fields.String(required=True)
    machine_id = fields.String(required=True)
    environment = fields.String(required=True, validate=ma.validate.OneOf(ENVIRONMENTS))


class DeploymentUpdateSchema(DeploymentSchema):
    pass
