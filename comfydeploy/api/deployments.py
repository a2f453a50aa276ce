"""Deployments of the caller's scope."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import api_auth, current_scope
from ..schemas.deployment import DeploymentCreateSchema, DeploymentSchema, DeploymentUpdateSchema
from ..schemas.workflow import InputListSchema
from ..services import deployments as service
from ..services.inputs import input_schema

blp = Blueprint("deployments", __name__, url_prefix="/deployment", description="Deployments")


@blp.route("")
class DeploymentList(MethodView):
    decorators = [api_auth]

    @blp.response(200, DeploymentSchema(many=True))
    def get(self):
        """All deployments."""
        return service.list_deployments(current_scope())

    @blp.arguments(DeploymentCreateSchema)
    @blp.response(201, DeploymentSchema)
    @blp.alt_response(200, schema=DeploymentSchema, description="The deployment of this (workflow, environment) existed and was updated.")
    def post(self, data):
        """Pin a version to a machine in an environment; again for the same workflow and environment updates it."""
        deployment, created = service.upsert_deployment(current_scope(), **data)
        return deployment, 201 if created else 200


@blp.route("/<deployment_id>")
class DeploymentDetail(MethodView):
    decorators = [api_auth]

    @blp.response(200, DeploymentSchema)
    def get(self, deployment_id):
        """One deployment."""
        return service.get_deployment(current_scope(), deployment_id)

    @blp.arguments(DeploymentUpdateSchema)
    @blp.response(200, DeploymentSchema)
    def put(self, data, deployment_id):
        """Repoint a deployment (version, machine) or edit its description, media and run timeout."""
        return service.update_deployment(current_scope(), deployment_id, **data)

    @blp.response(204)
    def delete(self, deployment_id):
        """Delete a deployment; its past runs stay."""
        service.delete_deployment(current_scope(), deployment_id)


@blp.route("/<deployment_id>/inputs")
class DeploymentInputs(MethodView):
    decorators = [api_auth]

    @blp.response(200, InputListSchema)
    def get(self, deployment_id):
        """The inputs POST /api/run accepts for this deployment."""
        deployment = service.get_deployment(current_scope(), deployment_id)
        version = service.version_for(deployment)
        return {"workflow_version_id": version.id, "inputs": input_schema(version.workflow_api)}
