"""Talks to ComfyUI machines over the comfyui-deploy protocol (reference §6, §16)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

SERVERLESS_TYPES = ("runpod-serverless", "modal-serverless", "comfy-deploy-serverless")
MAX_REPLY_BYTES = 2 * 1024 * 1024
# One pooled session per worker process: keep-alive connections to machines save a TCP handshake
# per dispatch (workers run jobs one at a time, so the session is not shared across threads).
_http = requests.Session()


class TransientDispatchError(Exception):
    """The machine could not be reached or answered 5xx: trying again may work."""


class UncertainDispatchError(Exception):
    """The request was sent but no answer came back: the machine may have queued the run."""


class PermanentDispatchError(Exception):
    """The machine refused the run; retrying the same request will not help."""

    def __init__(self, message: str, output: Any = None):
        super().__init__(message)
        self.output = output


@dataclass
class MachineTarget:
    type: str
    endpoint: str
    auth_token: str | None = None


def run_url(machine: MachineTarget) -> str:
    if machine.type in SERVERLESS_TYPES:
        return f"{machine.endpoint}/run"
    return f"{machine.endpoint}/comfyui-deploy/run"


def _headers(machine: MachineTarget) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "comfydeploy"}
    if machine.type == "runpod-serverless" and machine.auth_token:
        headers["Authorization"] = f"Bearer {machine.auth_token}"
    return headers


def _body(response: requests.Response) -> Any:
    raw = response.content[:MAX_REPLY_BYTES]
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")[:2000]


def dispatch(machine: MachineTarget, payload: dict[str, Any], connect_timeout: float, read_timeout: float) -> Any:
    """POST the run; return the machine's JSON answer or raise one of the three error kinds."""
    if machine.type == "runpod-serverless" and not machine.auth_token:
        raise PermanentDispatchError("Machine has no auth_token; RunPod endpoints need one")
    body = {"input": payload} if machine.type in SERVERLESS_TYPES else payload
    try:
        response = _http.post(run_url(machine), data=json.dumps(body), headers=_headers(machine),
                                 timeout=(connect_timeout, read_timeout), allow_redirects=False)
    except requests.exceptions.ConnectTimeout as exc:
        raise TransientDispatchError(f"connect timeout after {connect_timeout}s") from exc
    except requests.exceptions.ConnectionError as exc:
        if isinstance(exc.__context__, requests.exceptions.ReadTimeout) or "Read timed out" in str(exc):
            raise UncertainDispatchError(f"no answer within {read_timeout}s") from exc
        raise TransientDispatchError(f"cannot connect to {machine.endpoint}: {_short(exc)}") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise UncertainDispatchError(f"no answer within {read_timeout}s") from exc
    except requests.exceptions.RequestException as exc:
        raise TransientDispatchError(_short(exc)) from exc
    answer = _body(response)
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TransientDispatchError(f"machine answered {response.status_code} {response.reason}: {_text(answer)}")
    if response.status_code == 400 and isinstance(answer, dict) and "node_errors" in answer:
        raise PermanentDispatchError(f"Invalid prompt: {describe_prompt_error(answer)}", {"error": answer})
    if response.status_code >= 400:
        raise PermanentDispatchError(f"machine answered {response.status_code} {response.reason}: {_text(answer)}",
                                     {"error": {"status": response.status_code, "body": answer}})
    if isinstance(answer, dict) and answer.get("error"):
        # 200 with an error: nothing was queued (e.g. "prompt has no outputs", unknown node class).
        raise PermanentDispatchError(f"Invalid prompt: {describe_prompt_error(answer)}", {"error": answer})
    return answer


def describe_prompt_error(answer: dict[str, Any]) -> str:
    parts = []
    error = answer.get("error")
    if isinstance(error, dict):
        parts.append(error.get("message") or error.get("type") or "error")
        if error.get("details"):
            parts.append(str(error["details"]))
    elif error:
        parts.append(str(error))
    node_errors = answer.get("node_errors") or {}
    if isinstance(node_errors, dict):
        for node_id, info in node_errors.items():
            for item in (info or {}).get("errors", []) if isinstance(info, dict) else []:
                parts.append(f"node {node_id} ({info.get('class_type')}): {item.get('message')}"
                             f"{' ' + str(item.get('details')) if item.get('details') else ''}")
    return "; ".join(parts) or "machine refused the prompt"


def check_prompt(machine: MachineTarget, prompt_id: str, timeout: float = 5) -> str | None:
    """The node's local status of a prompt, or None when it does not know it (classic only)."""
    if machine.type in SERVERLESS_TYPES:
        return None
    try:
        response = requests.get(f"{machine.endpoint}/comfyui-deploy/check-status",
                                params={"prompt_id": prompt_id}, timeout=timeout)
        data = response.json()
    except (requests.RequestException, ValueError):
        return None
    return data.get("status") if isinstance(data, dict) else None


@dataclass
class Health:
    online: bool
    queue_size: int | None = None
    error: str | None = None


def poll(machine: MachineTarget, timeout: float = 5) -> Health:
    """Cheap liveness check: ComfyUI's /queue (classic) or RunPod's /health."""
    try:
        if machine.type == "runpod-serverless":
            response = requests.get(f"{machine.endpoint}/health", headers=_headers(machine), timeout=timeout)
            response.raise_for_status()
            jobs = response.json().get("jobs", {})
            return Health(True, int(jobs.get("inQueue", 0)) + int(jobs.get("inProgress", 0)))
        if machine.type in SERVERLESS_TYPES:
            # Modal-style endpoints scale to zero and expose no health route: reachability is all we learn.
            requests.head(machine.endpoint, timeout=timeout)
            return Health(True, None)
        response = requests.get(f"{machine.endpoint}/queue", timeout=timeout)
        response.raise_for_status()
        data = response.json()
        return Health(True, len(data.get("queue_running", [])) + len(data.get("queue_pending", [])))
    except (requests.RequestException, ValueError, AttributeError, TypeError) as exc:
        return Health(False, None, _short(exc))


def interrupt(machine: MachineTarget, prompt_id: str, timeout: float = 5) -> bool:
    """Stop one prompt on a classic machine: drop it from ComfyUI's queue, or interrupt it if running."""
    if machine.type in SERVERLESS_TYPES:
        return False
    ok = False
    try:
        requests.post(f"{machine.endpoint}/queue", json={"delete": [prompt_id]}, timeout=timeout)
        running = requests.get(f"{machine.endpoint}/queue", timeout=timeout).json().get("queue_running", [])
        if any(len(item) > 1 and item[1] == prompt_id for item in running):
            # ComfyUI >= 0.3.x interrupts only the given prompt when prompt_id is sent.
            requests.post(f"{machine.endpoint}/interrupt", json={"prompt_id": prompt_id}, timeout=timeout)
        requests.post(f"{machine.endpoint}/comfyui-deploy/interrupt", json={"prompt_id": prompt_id}, timeout=timeout)
        ok = True
    except (requests.RequestException, ValueError, AttributeError):
        ok = False
    return ok


def _text(answer: Any) -> str:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return (text or "")[:500]


def _short(exc: Exception) -> str:
    return str(exc)[:300]
