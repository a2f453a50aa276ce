"""The local storage backend's upload and download URLs (signed by the app, like S3 presigned URLs)."""
from __future__ import annotations

from flask import Blueprint, current_app, request, send_file

from ..errors import AppError, Forbidden, NotFound
from ..services.callbacks import mark_uploaded
from ..storage import get_storage

bp = Blueprint("storage", __name__)


def _local():
    storage = get_storage()
    if storage.name != "local":
        raise NotFound("Local storage is not in use")
    return storage


@bp.route("/storage/<path:key>", methods=["PUT"])
def put_object(key: str):
    """Accept a PUT exactly like S3 accepts a presigned one: signed, unexpired, same Content-Type."""
    storage = _local()
    problem = storage.verify("PUT", key, request.args)
    if problem:
        raise Forbidden(f"Upload refused: {problem}")
    content_type = request.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip() != request.args.get("ct", ""):
        raise Forbidden("Upload refused: Content-Type differs from the one the URL was signed for")
    declared = request.content_length
    limit = int(request.args["max"]) if request.args.get("max") else None
    exact = int(request.args["size"]) if request.args.get("size") else None
    if declared is None:
        raise AppError("Content-Length is required", status_code=411)
    if exact is not None and declared != exact:
        raise Forbidden(f"Upload refused: the URL was signed for exactly {exact} bytes")
    if limit is not None and declared > limit:
        raise AppError(f"Upload is larger than the {limit} bytes allowed", status_code=413)
    request.max_content_length = limit or current_app.config["OUTPUT_MAX_BYTES"]
    try:
        size = storage.put_file(key, request.stream, content_type, limit=limit)
    except OverflowError as exc:
        raise AppError(str(exc), status_code=413)
    mark_uploaded(key, size)
    return "", 200


@bp.route("/storage/<path:key>", methods=["GET", "HEAD"])
def get_object(key: str):
    """Serve an object to whoever holds an unexpired signed URL."""
    storage = _local()
    problem = storage.verify("GET", key, request.args)
    if problem:
        raise Forbidden(f"Download refused: {problem}")
    try:
        path = storage.path(key)
    except ValueError:
        raise NotFound("No such object")
    if not path.is_file():
        raise NotFound("No such object")
    return send_file(path, conditional=True, max_age=0)
