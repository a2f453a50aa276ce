"""Downloading models into storage."""
from __future__ import annotations

from ..queue import enqueue


def enqueue_download(model_id: str) -> None:
    enqueue(download_model, model_id, queue="default", job_id=f"model-{model_id}", timeout=6 * 3600)


def download_model(model_id: str) -> str:
    """Download one volume model (idempotent)."""
    from ..services.volumes import download
    return download(model_id)
