"""Model files downloaded into storage: checkpoints, loras and the like."""
from __future__ import annotations

import hashlib
import re
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from flask import current_app

from ..auth import Scope
from ..errors import Conflict, Invalid
from ..extensions import db
from ..models import VolumeModel
from ..models.base import utcnow
from ..storage import get_storage
from .urls import check_http_url, host_is_private

MODEL_FOLDERS = ("checkpoints", "loras", "vae", "controlnet", "upscale_models", "embeddings", "clip", "clip_vision",
                 "unet", "diffusion_models", "text_encoders", "ipadapter", "style_models", "gligen", "hypernetworks",
                 "photomaker", "insightface", "facerestore_models", "reactor", "sams", "ultralytics", "LLM")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$")
VOLUME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
CHUNK = 1024 * 1024


def request_model(scope: Scope, folder: str, filename: str, url: str, volume: str | None = None) -> VolumeModel:
    """Record a model to download and enqueue the download."""
    errors: dict[str, list[str]] = {}
    volume = volume or "default"
    if not VOLUME_RE.match(volume):
        errors["volume"] = ["Letters, digits, '-' and '_' only."]
    if folder not in MODEL_FOLDERS:
        errors["folder"] = [f"Must be one of: {', '.join(MODEL_FOLDERS)}."]
    if not isinstance(filename, str) or not NAME_RE.match(filename) or ".." in filename:
        errors["filename"] = ["A plain file name: letters, digits, '.', '_', '-' and spaces."]
    if errors:
        raise Invalid("Model request is invalid", errors)
    url = check_http_url(url)
    existing = db.session.scalar(sa.select(VolumeModel).where(
        scope.where(VolumeModel), VolumeModel.volume == volume, VolumeModel.folder == folder,
        VolumeModel.filename == filename, VolumeModel.status.in_(("pending", "downloading", "ready"))))
    if existing is not None:
        raise Conflict(f"{folder}/{filename} already exists in volume {volume} (status {existing.status})")
    model = VolumeModel(user_id=scope.user_id, org_id=scope.org_id, volume=volume, folder=folder, filename=filename,
                        url=url, status="pending")
    db.session.add(model)
    db.session.commit()
    from ..tasks.volumes import enqueue_download
    enqueue_download(model.id)
    return model


def list_models(scope: Scope, volume: str | None = None) -> list[VolumeModel]:
    query = sa.select(VolumeModel).where(scope.where(VolumeModel))
    if volume:
        query = query.where(VolumeModel.volume == volume)
    return list(db.session.scalars(query.order_by(VolumeModel.created_at.desc(), VolumeModel.id)))


def _update(model_id: str, **values: Any) -> None:
    db.session.execute(sa.update(VolumeModel).where(VolumeModel.id == model_id).values(updated_at=utcnow(), **values))
    db.session.commit()


def download(model_id: str) -> str:
    """Download a model into storage with progress, size and sha256. Idempotent: only pending models run."""
    claimed = db.session.execute(sa.update(VolumeModel).where(
        VolumeModel.id == model_id, VolumeModel.status == "pending").values(status="downloading", updated_at=utcnow())
    ).rowcount == 1
    db.session.commit()
    if not claimed:
        return "skipped"
    model = db.session.get(VolumeModel, model_id)
    limit = current_app.config["MODEL_MAX_BYTES"]
    key = f"models/{model.org_id or model.user_id}/{model.volume}/{model.folder}/{model.filename}"
    host = urlsplit(model.url).hostname or ""
    if not current_app.config["ALLOW_PRIVATE_MODEL_URLS"] and host_is_private(model.url):
        _update(model_id, status="failed", error=f"Refused: {host} is a private or loopback address",
                finished_at=utcnow())
        return "failed"
    digest = hashlib.sha256()
    written = 0
    try:
        with requests.get(model.url, stream=True, timeout=(10, 60), allow_redirects=True) as response:
            if response.status_code != 200:
                raise ValueError(f"the server answered {response.status_code} {response.reason}")
            total = int(response.headers["Content-Length"]) if response.headers.get("Content-Length", "").isdigit() else None
            if total is not None and total > limit:
                raise ValueError(f"the file is {total} bytes, over the {limit} bytes limit")
            _update(model_id, size=total)
            last_report = time.monotonic()
            with tempfile.TemporaryFile() as spool:
                for chunk in response.iter_content(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise ValueError(f"the file is over the {limit} bytes limit")
                    digest.update(chunk)
                    spool.write(chunk)
                    if time.monotonic() - last_report > 1:
                        _update(model_id, downloaded_bytes=written)
                        last_report = time.monotonic()
                if total is not None and written != total:
                    raise ValueError(f"the download stopped after {written} of {total} bytes")
                spool.seek(0)
                get_storage().put_file(key, spool, "application/octet-stream")
    except (requests.RequestException, ValueError, OSError) as exc:
        _update(model_id, status="failed", error=f"Download failed: {str(exc)[:500]}", downloaded_bytes=written,
                finished_at=utcnow())
        return "failed"
    _update(model_id, status="ready", size=written, downloaded_bytes=written, sha256=digest.hexdigest(), key=key,
            finished_at=utcnow(), error=None)
    return "ready"
