"""The node classes the simulated machine can execute, and prompt validation as ComfyUI does it."""
from __future__ import annotations

import random
from typing import Any, Callable

import requests

from . import png

# class_type -> required inputs (a missing one is a validation error, like ComfyUI's required_input_missing)
REQUIRED: dict[str, tuple[str, ...]] = {
    "EmptyImage": ("width", "height"),
    "ImageInvert": ("image",),
    "SaveImage": ("images",),
    "PreviewImage": ("images",),
    "ComfyDeployOutputImage": ("images",),
    "ComfyDeployOutputText": ("text",),
    "SimulatedDelay": (),
    "ComfyUIDeployExternalText": ("input_id",),
    "ComfyUIDeployExternalTextAny": ("input_id",),
    "ComfyUIDeployExternalImage": ("input_id",),
    "ComfyUIDeployExternalImageAlpha": ("input_id",),
    "ComfyUIDeployExternalNumber": ("input_id",),
    "ComfyUIDeployExternalNumberInt": ("input_id",),
    "ComfyUIDeployExternalNumberSlider": ("input_id",),
    "ComfyUIDeployExternalNumberSliderInt": ("input_id",),
    "ComfyUIDeployExternalBoolean": ("input_id",),
    "ComfyUIDeployExternalEnum": ("input_id",),
    "ComfyUIDeployExternalSeed": ("input_id",),
    "ComfyUIDeployExternalCheckpoint": ("input_id",),
    "ComfyUIDeployExternalLora": ("input_id",),
    "ComfyUIDeployExternalFile": ("input_id",),
    "ComfyUIDeployExternalAudio": ("input_id",),
    "KSampler": ("seed",),
}
OUTPUT_NODES = {"SaveImage", "PreviewImage", "ComfyDeployOutputImage", "ComfyDeployOutputText"}

# What the HEAD node's apply_inputs_to_workflow also sets, per class (reference §7.2).
CLASS_FIELD = {
    "ComfyUIDeployExternalText": "default_value", "ComfyUIDeployExternalTextAny": "default_value",
    "ComfyUIDeployExternalImageBatch": "images", "ComfyUIDeployExternalBoolean": "default_value",
    "ComfyUIDeployExternalEnum": "default_value", "ComfyUIDeployExternalSeed": "default_value",
    "ComfyUIDeployExternalCheckpoint": "default_value", "ComfyUIDeployExternalLora": "lora_url",
    "ComfyUIDeployExternalFaceModel": "face_model_url", "ComfyUIDeployExternalAudio": "audio_file",
    "ComfyUIDeployExternalEXR": "exr_file", "ComfyUIDeployExternalFile": "file_url",
}


class NodeError(Exception):
    """An exception raised while executing a node (becomes execution_error)."""

    def __init__(self, exception_type: str, message: str):
        super().__init__(message)
        self.exception_type = exception_type


def apply_inputs(workflow_api: dict[str, Any], inputs: dict[str, Any]) -> None:
    """The HEAD node's input substitution: input_id = value, plus the class-specific field."""
    for node in workflow_api.values():
        node_inputs = node.get("inputs", {})
        key = node_inputs.get("input_id")
        if isinstance(key, str) and key in inputs:
            node_inputs["input_id"] = inputs[key]
            field = CLASS_FIELD.get(node.get("class_type"))
            if field:
                node_inputs[field] = inputs[key]


def randomize_seeds(workflow_api: dict[str, Any], workflow: Any) -> None:
    """The HEAD node randomizes literal seeds, reading the UI graph (TypeError without one)."""
    for node_id, node in workflow_api.items():
        seed = node.get("inputs", {}).get("seed")
        if seed is None or isinstance(seed, list):
            continue
        ui_nodes = workflow["nodes"]  # raises TypeError when workflow is None, like the real node
        ui = next((n for n in ui_nodes if str(n.get("id")) == str(node_id)), None)
        if ui and node.get("class_type") == "KSampler" and (ui.get("widgets_values") or [None, None])[1] == "fixed":
            continue
        node["inputs"]["seed"] = random.randint(10 ** 14, 10 ** 15 - 1)


def validate(workflow_api: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """ComfyUI's validate_prompt: (200, {}) when valid, else (status, body) as the node answers."""
    for node_id, node in workflow_api.items():
        if node.get("class_type") not in REQUIRED:
            error = {"type": "invalid_prompt",
                     "message": f"Cannot execute because node {node.get('class_type')} does not exist.",
                     "details": f"Node ID '#{node_id}'", "extra_info": {}}
            return 200, {"error": error, "node_errors": {}}
    if not any(node["class_type"] in OUTPUT_NODES for node in workflow_api.values()):
        return 200, {"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                               "extra_info": {}}, "node_errors": []}
    node_errors = {}
    for node_id, node in workflow_api.items():
        missing = [name for name in REQUIRED[node["class_type"]] if name not in node.get("inputs", {})]
        if missing:
            node_errors[node_id] = {
                "errors": [{"type": "required_input_missing", "message": "Required input is missing",
                            "details": name, "extra_info": {"input_name": name}} for name in missing],
                "dependent_outputs": [nid for nid, n in workflow_api.items() if n["class_type"] in OUTPUT_NODES],
                "class_type": node["class_type"]}
    if node_errors:
        return 400, {"error": {"type": "prompt_outputs_failed_validation",
                               "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
                     "node_errors": node_errors}
    return 200, {}


def _image_from_url(url: str) -> png.Image:
    if url.startswith("data:"):
        import base64
        data = base64.b64decode(url.split(",", 1)[1])
    else:
        response = requests.get(url, timeout=30)
        if response.status_code != 200:
            raise NodeError("ValueError", f"Failed to load image from {url}: HTTP {response.status_code}")
        data = response.content
    try:
        return png.decode(data)
    except ValueError:
        # Not a PNG the simulator can decode: a deterministic gray image derived from the bytes.
        shade = sum(data[:4096]) % 256
        return png.solid(64, 64, shade * 0x010101)


def execute_node(class_type: str, inputs: dict[str, Any], ctx: "ExecutionContext") -> tuple[tuple, dict | None]:
    """Run one node: (outputs tuple, ui output dict or None)."""
    if class_type == "EmptyImage":
        return (png.solid(int(inputs["width"]), int(inputs["height"]), int(inputs.get("color", 0))),), None
    if class_type == "ImageInvert":
        image = inputs["image"]
        if image is None:
            raise NodeError("TypeError", "unsupported operand type(s) for -: 'float' and 'NoneType'")
        return (png.invert(image),), None
    if class_type in ("SaveImage", "ComfyDeployOutputImage", "PreviewImage"):
        temp = class_type == "PreviewImage"
        prefix = "ComfyUI_temp" if temp else str(inputs.get("filename_prefix", "ComfyUI"))
        filename = ctx.save(prefix, "png", png.encode(inputs["images"]), temp=temp)
        item = {"filename": filename, "subfolder": "", "type": "temp" if temp else "output"}
        if class_type == "ComfyDeployOutputImage":
            item["output_id"] = inputs.get("output_id", "output_images")
        return (), {"images": [item]}
    if class_type == "ComfyDeployOutputText":
        ext = inputs.get("file_type", "txt")
        filename = ctx.save(str(inputs.get("filename_prefix", "ComfyUI")), ext, str(inputs["text"]).encode())
        return (), {"text_file": [{"filename": filename, "subfolder": "", "type": "output",
                                   "output_id": inputs.get("output_id", "output_text")}]}
    if class_type == "SimulatedDelay":
        steps = max(1, int(inputs.get("steps", 5)))
        for step in range(1, steps + 1):
            ctx.sleep(float(inputs.get("seconds", 1)) / steps)
            ctx.progress(step, steps)
        return (inputs.get("value"),), None
    if class_type in ("ComfyUIDeployExternalImage", "ComfyUIDeployExternalImageAlpha"):
        url = inputs.get("input_id")
        if not (isinstance(url, str) and url.startswith(("http", "data:"))):
            url = inputs.get("default_value_url")
        if isinstance(url, str) and url.startswith(("http", "data:")):
            try:
                return (_image_from_url(url),), None
            except NodeError:
                return (None,), None  # the real node returns None and the next node fails (trace runtime_fail)
        return (None,), None
    if class_type in ("ComfyUIDeployExternalText", "ComfyUIDeployExternalTextAny", "ComfyUIDeployExternalBoolean",
                      "ComfyUIDeployExternalEnum", "ComfyUIDeployExternalCheckpoint"):
        return (inputs.get("default_value"),), None
    if class_type in ("ComfyUIDeployExternalNumber", "ComfyUIDeployExternalNumberSlider"):
        try:
            return (float(inputs.get("input_id")),), None
        except (TypeError, ValueError):
            return (float(inputs.get("default_value", 0)),), None
    if class_type in ("ComfyUIDeployExternalNumberInt", "ComfyUIDeployExternalNumberSliderInt",
                      "ComfyUIDeployExternalSeed"):
        value = inputs.get("input_id")
        if isinstance(value, str) and value.isdigit():
            return (int(value),), None
        if isinstance(value, int) and not isinstance(value, bool) and value:
            return (value,), None
        return (int(inputs.get("default_value", 0)),), None
    if class_type == "ComfyUIDeployExternalLora":
        return (inputs.get("lora_url") or inputs.get("default_lora_name"),), None
    if class_type in ("ComfyUIDeployExternalFile", "ComfyUIDeployExternalAudio"):
        return (inputs.get("file_url") or inputs.get("audio_file") or inputs.get("default_value"),), None
    if class_type == "KSampler":
        return (inputs.get("seed"),), None
    raise NodeError("NotImplementedError", f"{class_type} cannot run on the simulated machine")


class ExecutionContext:
    """Hooks the executor gives nodes: saving files, sleeping (interruptible), progress events."""

    def __init__(self, save: Callable[..., str], sleep: Callable[[float], None], progress: Callable[[int, int], None]):
        self.save, self.sleep, self.progress = save, sleep, progress

