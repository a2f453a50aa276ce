"""Machines of the caller's scope."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import api_auth, current_scope
from ..schemas.machine import MachineCreateSchema, MachineSchema, MachineUpdateSchema
from ..services import machines as service

blp = Blueprint("machines", __name__, url_prefix="/machine", description="ComfyUI machines")


@blp.route("")
class MachineList(MethodView):
    decorators = [api_auth]

    @blp.response(200, MachineSchema(many=True))
    def get(self):
        """All machines, including disabled ones."""
        return service.list_machines(current_scope())

    @blp.arguments(MachineCreateSchema)
    @blp.response(201, MachineSchema)
    def post(self, data):
        """Register a machine (a ComfyUI with the comfyui-deploy node, or a serverless endpoint)."""
        return service.create_machine(current_scope(), **data)


@blp.route("/<machine_id>")
class MachineDetail(MethodView):
    decorators = [api_auth]

    @blp.response(200, MachineSchema)
    def get(self, machine_id):
        """One machine with its last health check."""
        return service.get_machine(current_scope(), machine_id)

    @blp.arguments(MachineUpdateSchema)
    @blp.response(200, MachineSchema)
    def put(self, data, machine_id):
        """Change a machine's settings; send only the fields to change."""
        return service.update_machine(current_scope(), machine_id, **data)

    @blp.response(204)
    def delete(self, machine_id):
        """Delete a machine; 409 while a deployment uses it."""
        service.delete_machine(current_scope(), machine_id)
