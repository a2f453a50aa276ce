"""Workflows: push from ComfyUI, read versions and their inputs."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import api_auth, current_scope
from ..schemas.common import PageArgsSchema
from ..schemas.workflow import (InputListSchema, WorkflowDetailSchema, WorkflowPageSchema, WorkflowPushedSchema,
                                WorkflowPushSchema, WorkflowVersionSchema)
from ..services import workflows as service
from ..services.inputs import input_schema

blp = Blueprint("workflows", __name__, url_prefix="/api", description="Workflows and versions")


@blp.route("/workflow")
class WorkflowPush(MethodView):
    decorators = [api_auth]

    @blp.arguments(WorkflowPushSchema)
    @blp.response(200, WorkflowPushedSchema)
    def post(self, data):
        """Create a workflow or add a version (used by the ComfyUI plugin's Deploy button)."""
        version = service.push_workflow(current_scope(), data["workflow_api"], data.get("workflow"),
                                        data.get("snapshot"), data.get("workflow_id") or None,
                                        data.get("workflow_name"))
        return {"workflow_id": version.workflow_id, "version": version.version, "workflow_version_id": version.id}


@blp.route("/workflow-version/<version_id>")
class WorkflowVersionDetail(MethodView):
    decorators = [api_auth]

    @blp.response(200, WorkflowVersionSchema)
    def get(self, version_id):
        """One version of one of your workflows (used by the plugin's edit flow)."""
        return service.get_version(current_scope(), version_id)


@blp.route("/workflow-version/<version_id>/inputs")
class WorkflowVersionInputs(MethodView):
    decorators = [api_auth]

    @blp.response(200, InputListSchema)
    def get(self, version_id):
        """The inputs a version takes: its ComfyUIDeployExternal* nodes."""
        version = service.get_version(current_scope(), version_id)
        return {"workflow_version_id": version.id, "inputs": input_schema(version.workflow_api)}


@blp.route("/workflows")
class WorkflowList(MethodView):
    decorators = [api_auth]

    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, WorkflowPageSchema)
    def get(self, args):
        """Your workflows, most recently updated first (keyset pagination with next_cursor)."""
        rows, next_cursor = service.list_workflows(current_scope(), args["limit"], args.get("cursor"))
        latest = service.latest_versions([w.id for w in rows])
        items = [_workflow_dict(w, latest.get(w.id)) for w in rows]
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/workflows/<workflow_id>")
class WorkflowDetail(MethodView):
    decorators = [api_auth]

    @blp.response(200, WorkflowDetailSchema)
    def get(self, workflow_id):
        """A workflow with the list of its versions."""
        workflow = service.get_workflow(current_scope(), workflow_id)
        versions = service.version_summaries(workflow.id)
        data = _workflow_dict(workflow, versions[0]["version"] if versions else None)
        data["versions"] = versions
        return data

    @blp.response(204)
    def delete(self, workflow_id):
        """Delete a workflow with its versions, deployments and runs."""
        service.delete_workflow(current_scope(), workflow_id)


def _workflow_dict(workflow, latest_version):
    return {"id": workflow.id, "name": workflow.name, "user_id": workflow.user_id, "org_id": workflow.org_id,
            "latest_version": latest_version, "created_at": workflow.created_at, "updated_at": workflow.updated_at}
