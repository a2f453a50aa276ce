"""POST /api/run and GET /api/run: start a run from a deployment and poll it."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import api_auth, current_scope
from ..schemas.run import RunCreatedSchema, RunCreateSchema, RunListArgsSchema, RunPageSchema, RunQuerySchema, RunSchema
from ..services import run_list, runs as service
from ..services.run_views import run_view
from .base_url import public_base_url

blp = Blueprint("runs", __name__, url_prefix="/api", description="Runs")


@blp.route("/run")
class RunResource(MethodView):
    decorators = [api_auth]

    @blp.arguments(RunCreateSchema)
    @blp.response(200, RunCreatedSchema)
    def post(self, data):
        """Start a run of a deployment; answers at once with run_id (the run is dispatched in the background)."""
        run = service.create_run(current_scope(), data["deployment_id"], data.get("inputs"), public_base_url(),
                                 api_key_id=g.api_key.id)
        return {"run_id": run.id}

    @blp.arguments(RunQuerySchema, location="query")
    @blp.response(200, RunSchema)
    def get(self, args):
        """A run with status, progress, live status, errors and outputs (output URLs are signed and expire)."""
        run = service.get_run(current_scope(), args["run_id"])
        return run_view(run, public_base_url())


@blp.route("/runs")
class RunList(MethodView):
    decorators = [api_auth]

    @blp.arguments(RunListArgsSchema, location="query")
    @blp.response(200, RunPageSchema)
    def get(self, args):
        """Runs, newest first (keyset pagination with next_cursor); filter by deployment, workflow or status."""
        rows, next_cursor = run_list.list_runs(current_scope(), **args)
        return {"items": [run_view(r, "", include_outputs=False) for r in rows], "next_cursor": next_cursor}
