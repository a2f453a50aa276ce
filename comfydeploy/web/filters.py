"""Jinja filters for the dashboard: times, durations, health badges, output kinds."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Flask, current_app

from ..models.base import utcnow

VIDEO = (".mp4", ".webm", ".mov", ".mkv")
AUDIO = (".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac")
IMAGE = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
TEXT = (".txt", ".json", ".md", ".csv")


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "–"
    seconds = ((end or utcnow()) - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def health(machine) -> tuple[str, str]:
    """(label, css class) of a machine's health badge."""
    if machine.disabled:
        return "disabled", "muted"
    if machine.status in ("offline", "error", "building"):
        return machine.status, machine.status
    if machine.last_seen_at is None:
        return "not checked yet", "muted"
    stale = timedelta(seconds=3 * current_app.config["MACHINE_POLL_INTERVAL"])
    if utcnow() - machine.last_seen_at > stale:
        return "no recent answer", "offline"
    if machine.queue_size:
        return f"busy ({machine.queue_size} queued)", "busy"
    return "ready", "ready"


def media_kind(filename: str | None) -> str:
    name = (filename or "").lower()
    for kind, extensions in (("image", IMAGE), ("video", VIDEO), ("audio", AUDIO), ("text", TEXT)):
        if name.endswith(extensions):
            return kind
    return "file"


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(ago=ago, media_kind=media_kind, health=health,
                                 pretty=lambda v: json.dumps(v, indent=2, default=str))
    app.jinja_env.globals.update(duration=duration)
