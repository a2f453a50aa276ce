"""Runs: start (optionally idempotent, optionally waiting), poll, cancel, stream events."""
from __future__ import annotations

import json
import time

from flask import Response, current_app, g, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import PREFETCH, api_auth, current_scope
from ..errors import AppError, Invalid
from ..extensions import db
from ..schemas.run import (RunCreatedSchema, RunCreateSchema, RunEventsArgsSchema,
                           RunListArgsSchema, RunPageSchema, RunSchema)
from ..services import idempotency, run_list, run_view_cache
from ..services import runs as service
from ..services.run_hooks import events_after
from ..services.run_views import run_view, run_view_body
from . import long_requests
from .base_url import public_base_url

def json_response(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response built directly (the schema named in @blp.response documents it)."""
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json", headers=headers)


blp = Blueprint("runs", __name__, url_prefix="/api", description="Runs")
# Polls read the run's cached view: fetch its keys with the API key's (one Redis round trip in all).
PREFETCH[("GET", "runs.RunResource")] = lambda req: run_view_cache.keys_for(req.args.get("run_id", ""))


MAX_WAIT = 300


def _run_request() -> tuple[dict, int | None]:
    """The POST /api/run body as {deployment_id, inputs, webhook} and ?wait, or a 422 naming each problem."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Body must be a JSON object such as {"deployment_id": "...", "inputs": {...}}',
                      {"json": {"_schema": ["Invalid input type."]}})
    data = {"deployment_id": body.get("deployment_id"), "inputs": body.get("inputs"), "webhook": body.get("webhook")}
    errors: dict[str, list[str]] = {}
    if data["deployment_id"] is None:
        errors["deployment_id"] = ["Missing data for required field."]
    elif not isinstance(data["deployment_id"], str):
        errors["deployment_id"] = ["Not a valid string."]
    if data["inputs"] is not None and not isinstance(data["inputs"], dict):
        errors["inputs"] = ["Not a valid mapping type."]
    if data["webhook"] is not None and not isinstance(data["webhook"], str):
        errors["webhook"] = ["Not a valid string."]
    if errors:
        raise Invalid(f"Check these fields of the body: {', '.join(sorted(errors))}", {"json": errors})
    raw_wait = request.args.get("wait")
    if raw_wait is None:
        return data, None
    if not raw_wait.isdigit() or int(raw_wait) > MAX_WAIT:
        raise Invalid(f"wait must be a whole number of seconds from 0 to {MAX_WAIT}",
                      {"query": {"wait": [f"Must be greater than or equal to 0 and less than or equal to {MAX_WAIT}."]}})
    return data, int(raw_wait)


@blp.route("/run")
class RunResource(MethodView):
    decorators = [api_auth]

    # Body and query are checked by hand (same rules as the schemas that document them): this is the
    # busiest write path and webargs' parsing cost more than the checks.
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": RunCreateSchema}}},
             parameters=[{"in": "query", "name": "wait", "required": False,
                          "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT},
                          "description": f"Wait up to N seconds (<= {MAX_WAIT}) for the run to end."},
                         {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string"},
                          "description": "Same key and body within 24 h returns the same run; another body: 422."}])
    @blp.response(200, RunCreatedSchema, description="The run was created ({run_id}); with ?wait=N the run "
                                                     "itself once it ended within N seconds.")
    @blp.alt_response(202, schema=RunCreatedSchema, description="?wait=N and the run had not ended in time.")
    def post(self):
        """Start a run of a deployment; answers at once with run_id (the run is dispatched in the background)."""
        data, wait = _run_request()
        scope = current_scope()
        base = public_base_url()

        def create():
            return service.create_run(scope, data["deployment_id"], data["inputs"], base,
                                      api_key_id=g.api_key.id, webhook=data["webhook"])

        key = request.headers.get("Idempotency-Key")
        replayed = False
        if key is not None:
            run, replayed = idempotency.run_once(scope, key, data, create)
        else:
            run = create()
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        if not wait:
            return json_response({"run_id": run.id, "status": run.status}, headers=headers)
        if not long_requests.try_acquire():
            return {"run_id": run.id, "status": run.status}, 202, {**headers, "Retry-After": "1"}
        try:
            run = service.wait_until_done(run.id, wait)
        finally:
            long_requests.release()
        if not run.is_terminal:
            return {"run_id": run.id, "status": run.status}, 202, headers
        body = RunSchema().dump(run_view(run, base))
        body["run_id"] = run.id
        return json_response(body, headers=headers)

    # The query is read by hand: clients poll this, and webargs' parsing was a tenth of a poll's CPU.
    @blp.doc(parameters=[{"in": "query", "name": "run_id", "required": True, "schema": {"type": "string"},
                          "description": "The run_id POST /api/run answered."}])
    @blp.response(200, RunSchema)
    def get(self):
        """A run with status, progress, live status, queue position and ETA, errors and outputs
        (output URLs are signed and expire)."""
        run_id = request.args.get("run_id")
        if not run_id:
            raise Invalid("run_id is required: GET /api/run?run_id=<the run_id POST /api/run answered>",
                          {"query": {"run_id": ["Missing data for required field."]}})
        return Response(run_view_body(current_scope(), run_id, public_base_url()), mimetype="application/json")


@blp.route("/run/<run_id>/cancel")
class RunCancel(MethodView):
    decorators = [api_auth]

    @blp.response(200, RunSchema)
    @blp.alt_response(409, description="The run already ended.")
    def post(self, run_id):
        """Cancel this run: dropped from the queue, or interrupted on its machine. Idempotent."""
        run = service.cancel_run(current_scope(), run_id)
        return run_view(run, public_base_url())


@blp.route("/run/<run_id>/events")
class RunEvents(MethodView):
    decorators = [api_auth]

    @blp.arguments(RunEventsArgsSchema, location="query")
    @blp.doc(responses={"200": {"description": "text/event-stream of status, progress, output and log events; "
                                               "each has an id to resume with Last-Event-ID. Closes when the run "
                                               "has ended, or after SSE_MAX_SECONDS (reconnect to go on)."}})
    def get(self, args, run_id):
        """Server-sent events of a run, resumable with Last-Event-ID; closes when the run ends."""
        run = service.get_run(current_scope(), run_id)
        header = request.headers.get("Last-Event-ID", "")
        after = args.get("last_event_id") or (int(header) if header.isdigit() else 0)
        if not long_requests.try_acquire():
            raise AppError("Too many open event streams on this server; retry shortly", status_code=503,
                           headers={"Retry-After": "2"})
        limit_seconds = current_app.config["SSE_MAX_SECONDS"]
        return Response(stream_with_context(_stream(run.id, after, limit_seconds)), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream(run_id: str, after: int, limit_seconds: int):
    from ..models import Run
    try:
        started = last_beat = time.monotonic()
        yield "retry: 1000\n\n"
        while True:
            events = events_after(run_id, after)
            for event in events:
                after = event.id
                data = json.dumps({"run_id": run_id, **(event.data or {})}, default=str)
                yield f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"
            status = db.session.scalar(db.select(Run.status).where(Run.id == run_id))
            db.session.commit()  # fresh snapshot on the next poll
            if not events:
                from ..models import TERMINAL_STATUSES
                if status in TERMINAL_STATUSES and not events_after(run_id, after, limit=1):
                    yield "event: end\ndata: {}\n\n"
                    return
                if time.monotonic() - started > limit_seconds:
                    return
                if time.monotonic() - last_beat > 15:
                    last_beat = time.monotonic()
                    yield ": keep-alive\n\n"
                time.sleep(0.25)
    finally:
        db.session.remove()
        long_requests.release()


@blp.route("/runs")
class RunList(MethodView):
    decorators = [api_auth]

    @blp.arguments(RunListArgsSchema, location="query")
    @blp.response(200, RunPageSchema)
    def get(self, args):
        """Runs, newest first (keyset pagination with next_cursor); filter by deployment, workflow or status."""
        rows, next_cursor = run_list.list_runs(current_scope(), **args)
        return {"items": [run_view(r, "", include_outputs=False, include_queue=False) for r in rows],
                "next_cursor": next_cursor}
