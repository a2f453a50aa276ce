"""Object storage behind one interface: a local folder (URLs signed by the app) or S3 via boto3."""
from __future__ import annotations

from flask import Flask, current_app

from .base import Storage


def get_storage(app: Flask | None = None) -> Storage:
    app = app or current_app._get_current_object()
    storage = app.extensions.get("comfydeploy_storage")
    if storage is None:
        if app.config["STORAGE_BACKEND"] == "s3":
            from .s3 import S3Storage
            storage = S3Storage(app.config)
        else:
            from .local import LocalStorage
            storage = LocalStorage(app.config)
        app.extensions["comfydeploy_storage"] = storage
    return storage
