"""The inputs a workflow version takes: its ComfyUIDeployExternal* nodes (reference §7)."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import WorkflowVersion

# class_type -> (JSON type accepted from callers, field the node reads the value from)
INPUT_CLASSES: dict[str, str] = {
    "ComfyUIDeployExternalText": "string",
    "ComfyUIDeployExternalTextAny": "string",
    "ComfyUIDeployExternalImage": "image",
    "ComfyUIDeployExternalImageAlpha": "image",
    "ComfyUIDeployExternalImageBatch": "image_list",
    "ComfyUIDeployExternalNumber": "number",
    "ComfyUIDeployExternalNumberInt": "integer",
    "ComfyUIDeployExternalNumberSlider": "number",
    "ComfyUIDeployExternalNumberSliderInt": "integer",
    "ComfyUIDeployExternalBoolean": "boolean",
    "ComfyUIDeployExternalEnum": "enum",
    "ComfyUIDeployExternalSeed": "integer",
    "ComfyUIDeployExternalCheckpoint": "string",
    "ComfyUIDeployExternalLora": "string",
    "ComfyUIDeployExternalFaceModel": "string",
    "ComfyUIDeployExternalAudio": "audio",
    "ComfyUIDeployExternalEXR": "file",
    "ComfyUIDeployExternalFile": "file",
    "ComfyUIDeployExternalVideo": "video",
    "ComfyUIDeployExternalVid": "video",
}

# Where each class keeps its default value in workflow_api.
_DEFAULT_FIELDS = {
    "ComfyUIDeployExternalLora": "default_lora_name",
    "ComfyUIDeployExternalFaceModel": "default_face_model_name",
    "ComfyUIDeployExternalImage": "default_value_url",
    "ComfyUIDeployExternalVideo": "default_value_url",
}


def _literal(value: Any) -> bool:
    # A [node_id, slot] pair is a link to another node, not a value.
    return not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], int))


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


_SCHEMAS_BY_VERSION: dict[str, list[dict[str, Any]]] = {}
SCHEMA_CACHE_SIZE = 512


def version_input_schema(version_id: str) -> list[dict[str, Any]]:
    """input_schema of a workflow version, cached per process by version id: versions never change
    once pushed, and POST /api/run needs this on every call (reading workflow_api only on a miss)."""
    schema = _SCHEMAS_BY_VERSION.get(version_id)
    if schema is None:
        schema = input_schema(db.session.scalar(sa.select(WorkflowVersion.workflow_api)
                                                .where(WorkflowVersion.id == version_id)))
        if len(_SCHEMAS_BY_VERSION) >= SCHEMA_CACHE_SIZE:
            _SCHEMAS_BY_VERSION.pop(next(iter(_SCHEMAS_BY_VERSION)))
        _SCHEMAS_BY_VERSION[version_id] = schema
    return schema


def input_schema(workflow_api: dict[str, Any] | None) -> list[dict[str, Any]]:
    """List the external inputs of a workflow_api, sorted by input_id."""
    found: dict[str, dict[str, Any]] = {}
    for node_id, node in (workflow_api or {}).items():
        if not isinstance(node, dict):
            continue
        class_type = node.get("class_type")
        if class_type not in INPUT_CLASSES:
            continue
        inputs = node.get("inputs") or {}
        input_id = inputs.get("input_id")
        if not isinstance(input_id, str) or not input_id or not _literal(input_id):
            continue
        default_field = _DEFAULT_FIELDS.get(class_type, "default_value")
        default = inputs.get(default_field, inputs.get("default_value"))
        entry: dict[str, Any] = {
            "input_id": input_id,
            "class_type": class_type,
            "node_id": str(node_id),
            "type": INPUT_CLASSES[class_type],
            "default_value": default if _literal(default) else None,
            "display_name": inputs.get("display_name") or None,
            "description": inputs.get("description") or None,
            "options": None,
            "min": _number(inputs.get("min_value")),
            "max": _number(inputs.get("max_value")),
        }
        if class_type == "ComfyUIDeployExternalEnum":
            entry["options"] = _parse_options(inputs.get("options"))
        found.setdefault(input_id, entry)
    return sorted(found.values(), key=lambda e: e["input_id"])


def _parse_options(raw: Any) -> list[str] | None:
    if isinstance(raw, list):
        return [str(o) for o in raw]
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            return [o.strip() for o in raw.split(",") if o.strip()]
        if isinstance(parsed, list):
            return [str(o) for o in parsed]
    return None


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:"))


def coerce_inputs(schema: list[dict[str, Any]], inputs: dict[str, Any] | None) -> tuple[dict[str, Any], dict]:
    """Check caller inputs against the schema; return (values to send, per-field errors)."""
    by_id = {entry["input_id"]: entry for entry in schema}
    accepted = ", ".join(sorted(by_id)) or "none"
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in (inputs or {}).items():
        entry = by_id.get(name)
        if entry is None:
            errors[name] = [f"Unknown input. This deployment accepts: {accepted}."]
            continue
        problem, converted = _check(entry, value)
        if problem:
            errors[name] = [problem]
        else:
            values[name] = converted
    return values, errors


def _check(entry: dict[str, Any], value: Any) -> tuple[str | None, Any]:
    kind = entry["type"]
    if kind == "boolean":
        if isinstance(value, bool):
            return None, value
        return "Must be a boolean (true or false).", None
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    value = float(value) if kind == "number" else int(value)
                except ValueError:
                    return f"Must be {'a number' if kind == 'number' else 'an integer'}.", None
            else:
                return f"Must be {'a number' if kind == 'number' else 'an integer'}.", None
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                return "Must be an integer.", None
            value = int(value)
        lo, hi = entry.get("min"), entry.get("max")
        if lo is not None and value < lo or hi is not None and value > hi:
            return f"Must be between {lo} and {hi}.", None
        return None, value
    if kind == "enum":
        if not isinstance(value, str):
            return "Must be a string.", None
        options = entry.get("options")
        if options and value not in options:
            return f"Must be one of: {', '.join(options)}.", None
        return None, value
    if kind == "image_list":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and _is_url(v) for v in value):
            return "Must be a list of image URLs (http(s) or data URIs).", None
        # The node expects a JSON array string in `images` (reference §7.2).
        return None, json.dumps(value)
    if not isinstance(value, str):
        return "Must be a string.", None
    if kind in ("image", "audio", "video") and value and not _is_url(value):
        return "Must be an http(s) URL or a data URI.", None
    if len(value) > 1_000_000:
        return "Is too long (1,000,000 characters at most).", None
    return None, value
