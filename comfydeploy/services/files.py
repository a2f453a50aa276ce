"""Run inputs uploaded by callers: presigned uploads and multipart uploads."""
from __future__ import annotations

import secrets
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from ..auth import Scope
from ..errors import AppError, Invalid, NotFound
from ..extensions import db
from ..models import File, Run
from ..models.base import utcnow
from ..storage import get_storage

INPUT_TYPES = {
    "image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpg", "image/webp": "webp", "image/gif": "gif",
    "video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov",
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg",
    "audio/flac": "flac", "audio/mp4": "m4a",
}
PREFIX = {"image": "img", "video": "vid", "audio": "aud"}
ID_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _nanoid(size: int = 16) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(size))


def _check_type(content_type: str | None) -> str:
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in INPUT_TYPES:
        raise Invalid(f"type must be one of: {', '.join(sorted(INPUT_TYPES))}", {"type": ["Unsupported type."]})
    return content_type


def _new_input(scope: Scope, content_type: str, size: int | None) -> File:
    ext = INPUT_TYPES[content_type]
    name = f"{PREFIX[content_type.split('/')[0]]}_{_nanoid()}.{ext}"
    row = File(user_id=scope.user_id, org_id=scope.org_id, kind="input", key=f"inputs/{name}", filename=name,
               content_type=content_type, max_size=size, status="pending")
    db.session.add(row)
    return row


def input_urls(row: File, base_url: str) -> dict:
    download = get_storage().presign_get(row.key, base_url, current_app.config["INPUT_URL_TTL"], row.filename)
    return {"file_id": row.id, "download_url": download}


def create_upload_url(scope: Scope, content_type: str, file_size: int, base_url: str) -> dict:
    """A presigned PUT for one input file of the declared type and size (enforced at upload)."""
    content_type = _check_type(content_type)
    limit = current_app.config["INPUT_MAX_BYTES"]
    if not isinstance(file_size, int) or file_size <= 0:
        raise Invalid("file_size must be a positive number of bytes", {"file_size": ["Must be positive."]})
    if file_size > limit:
        raise AppError(f"file_size exceeds the {limit // (1024 * 1024)} MB limit", {"file_size": ["Too large."]},
                       status_code=413)
    row = _new_input(scope, content_type, file_size)
    db.session.commit()
    url, _ = get_storage().presign_put(row.key, content_type, base_url, current_app.config["UPLOAD_URL_TTL"],
                                       max_size=file_size, exact_size=file_size)
    return {"upload_url": url, **input_urls(row, base_url)}


def store_upload(scope: Scope, stream: BinaryIO, content_type: str | None, base_url: str) -> dict:
    """Store a multipart-uploaded input file."""
    content_type = _check_type(content_type)
    limit = current_app.config["INPUT_MAX_BYTES"]
    row = _new_input(scope, content_type, None)
    db.session.flush()
    try:
        size = get_storage().put_file(row.key, stream, content_type, limit=limit)
    except OverflowError:
        db.session.rollback()
        raise AppError(f"File exceeds the {limit // (1024 * 1024)} MB limit", status_code=413)
    if size == 0:
        db.session.rollback()
        get_storage().delete(row.key)
        raise Invalid("The uploaded file is empty", {"file": ["Empty file."]})
    row.size, row.status, row.uploaded_at = size, "uploaded", utcnow()
    db.session.commit()
    return {"upload_url": None, **input_urls(row, base_url)}


def get_owned_file(scope: Scope, file_id: str) -> File:
    """A file of the caller: an input they uploaded or an output of one of their runs."""
    row = db.session.scalar(sa.select(File).where(File.id == file_id, scope.where(File)))
    if row is None:
        raise NotFound(f"File {file_id} not found")
    if row.run_id and db.session.scalar(sa.select(Run.id).where(Run.id == row.run_id, scope.where(Run))) is None:
        raise NotFound(f"File {file_id} not found")
    return row
