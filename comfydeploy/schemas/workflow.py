from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from .common import BaseSchema


class WorkflowPushSchema(BaseSchema):
    workflow_id = fields.String(load_default=None, allow_none=True,
                                metadata={"description": "Add a version to this workflow (empty = new workflow)."})
    workflow_name = fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=200))
    workflow = fields.Dict(load_default=None, allow_none=True, metadata={"description": "ComfyUI UI graph."})
    workflow_api = fields.Dict(required=True, metadata={"description": "ComfyUI API prompt: {node_id: {class_type, inputs}}."})
    snapshot = fields.Dict(load_default=None, allow_none=True, metadata={"description": "ComfyUI-Manager snapshot."})


class WorkflowPushedSchema(BaseSchema):
    workflow_id = fields.String()
    version = fields.Integer()
    workflow_version_id = fields.String()


class WorkflowVersionSchema(BaseSchema):
    id = fields.String()
    workflow_id = fields.String()
    version = fields.Integer()
    workflow = fields.Raw(allow_none=True)
    workflow_api = fields.Raw()
    snapshot = fields.Raw(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class VersionSummarySchema(BaseSchema):
    id = fields.String()
    version = fields.Integer()
    created_at = fields.DateTime()


class WorkflowSchema(BaseSchema):
    id = fields.String()
    name = fields.String()
    user_id = fields.String()
    org_id = fields.String(allow_none=True)
    latest_version = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WorkflowDetailSchema(WorkflowSchema):
    versions = fields.List(fields.Nested(VersionSummarySchema))


class WorkflowPageSchema(BaseSchema):
    items = fields.List(fields.Nested(WorkflowSchema))
    next_cursor = fields.String(allow_none=True)


class InputSchemaEntrySchema(BaseSchema):
    input_id = fields.String()
    class_type = fields.String()
    node_id = fields.String()
    type = fields.String(metadata={"description": "string, image, image_list, number, integer, boolean, enum, audio, video or file."})
    default_value = fields.Raw(allow_none=True)
    display_name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    options = fields.List(fields.String(), allow_none=True)
    min = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)


class InputListSchema(BaseSchema):
    workflow_version_id = fields.String()
    inputs = fields.List(fields.Nested(InputSchemaEntrySchema))
