"""A simulated ComfyUI machine running the comfyui-deploy custom node (HEAD v2.3.10).

A real HTTP server with the node's routes. It validates and executes prompts with a few node
classes on the CPU, and sends the callback sequence the recorded traces show (reference
node-traces/): ws_event stream, running, live_status with progress, uploads through
file_upload_endpoint, output_data with node_meta, the timing array, success only after uploads,
failed after an execution_error, 400 with node_errors for an invalid prompt."""
from __future__ import annotations

import copy
import itertools
import json
import queue
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests

from .nodes import ExecutionContext, NodeError, apply_inputs, execute_node, randomize_seeds, validate

MEDIA_KEYS = ("images", "files", "gifs", "model_file", "result", "text_file", "audio")
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
                 ".gif": "image/gif", ".zip": "application/zip"}


class Interrupted(Exception):
    pass


class Prompt:
    def __init__(self, prompt_id: str, number: int, workflow_api: dict, data: dict, token: str | None):
        self.id, self.number, self.workflow_api, self.data, self.token = prompt_id, number, workflow_api, data, token
        self.status = "not-started"
        self.interrupted = threading.Event()


class SimulatedMachine:
    """Start with .start(); .url is its base URL. Knobs below inject faults for tests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, retry_delay: float = 1.0, node_delay: float = 0.0):
        self.retry_delay = retry_delay      # the node waits 1, 2, 4, 8 s between callback retries
        self.node_delay = node_delay        # seconds each node takes
        self.fail_dispatches = 0            # answer the next N dispatches with 503
        self.dispatch_delay = 0.0           # wait before answering a dispatch (read timeouts)
        self.shuffle_callbacks = False      # swap neighbouring callbacks, as the node's concurrent tasks do
        self.duplicate_callbacks = False    # send every callback twice
        self.dispatches: list[dict] = []    # every accepted POST /comfyui-deploy/run body
        self.callbacks: list[dict] = []     # every callback sent: {method, url, body, status}
        self.outputs: dict[str, bytes] = {}
        self._queue: "queue.Queue[Prompt]" = queue.Queue()
        self._prompts: dict[str, Prompt] = {}
        self._pending: list[str] = []
        self._running: str | None = None
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._uploads = ThreadPoolExecutor(3, thread_name_prefix="sim-upload")
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SimulatedMachine":
        for target in (self.server.serve_forever, self._work):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._queue.put(None)  # type: ignore[arg-type]

    # ---- HTTP --------------------------------------------------------------------------------------
    def _handler(self):
        machine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave as separate writes: without TCP_NODELAY the client's delayed ACK
            # holds every response back ~40 ms, as no real ComfyUI (aiohttp) would.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: Any, reason: str | None = None) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status, reason)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else {}

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/queue":
                    self._json(200, machine.queue_state())
                elif parts.path == "/system_stats":
                    self._json(200, {"system": {"os": "posix", "comfyui_version": "simulated",
                                                "python_version": "3.11"}, "devices": []})
                elif parts.path == "/comfyui-deploy/check-status":
                    prompt = machine._prompts.get(query.get("prompt_id", ""))
                    self._json(200, {"status": prompt.status} if prompt else {"message": "prompt_id not found"})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                path = urlsplit(self.path).path
                try:
                    body = self._body()
                except ValueError:
                    self._json(400, {"error": "invalid json"})
                    return
                if path in ("/comfyui-deploy/run", "/run"):
                    if path == "/run":
                        body = body.get("input") or {}
                    status, answer = machine.accept(body, self.headers.get("Authorization"))
                    self._json(status, answer, reason="Internal Server Error" if status == 500 else None)
                elif path == "/comfyui-deploy/interrupt":
                    machine.node_interrupt(body.get("prompt_id"))
                    self._json(200, {"message": "Prompt interrupted"})
                elif path == "/interrupt":
                    machine.comfy_interrupt(body.get("prompt_id"))
                    self._json(200, None)
                elif path == "/queue":
                    machine.delete_from_queue(body.get("delete") or [])
                    self._json(200, None)
                else:
                    self._json(404, {"error": "not found"})

        return Handler

    # ---- the node's /comfyui-deploy/run ------------------------------------------------------------
    def accept(self, data: dict, authorization: str | None) -> tuple[int, Any]:
        status, answer = self._accept(data, authorization)
        if self.dispatch_delay:
            time.sleep(self.dispatch_delay)  # slow answer: the prompt is already queued
        return status, answer

    def _accept(self, data: dict, authorization: str | None) -> tuple[int, Any]:
        with self._lock:
            if self.fail_dispatches > 0:
                self.fail_dispatches -= 1
                return 503, {"error": "simulated overload"}
        workflow_api = data.get("workflow_api_raw")
        if not isinstance(workflow_api, dict):
            return 500, None  # the node's pydantic model rejects a missing workflow_api_raw
        workflow_api = copy.deepcopy(workflow_api)
        try:
            randomize_seeds(workflow_api, data.get("workflow"))
        except TypeError:
            return 500, None  # reference §13 item 9: no UI graph + a literal seed
        apply_inputs(workflow_api, data.get("inputs") or {})
        token = data.get("cd_token")
        if not token and authorization and authorization.lower().startswith("bearer "):
            token = authorization.split(" ", 1)[1]
        prompt_id = data.get("prompt_id") or str(uuid.uuid4())
        has_prompt_id = bool(data.get("prompt_id"))
        number = next(self._numbers)
        status, answer = validate(workflow_api)
        prompt = Prompt(prompt_id, number, workflow_api, data if has_prompt_id else {}, token)
        self.dispatches.append(data)
        if status == 400 or answer.get("error"):
            if status == 400:
                # Node posts the error as output_data, then failed (trace "invalid").
                self._post(prompt, {"run_id": prompt_id, "output_data": {"error": answer}, "node_meta": None,
                                    "gpu_event_id": data.get("gpu_event_id")})
                self._post(prompt, {"run_id": prompt_id, "status": "failed", "gpu_event_id": data.get("gpu_event_id")})
                return 400, answer
            return 200, answer  # e.g. unknown node class: nothing queued, no callbacks
        with self._lock:
            self._prompts[prompt_id] = prompt
            self._pending.append(prompt_id)
        self._queue.put(prompt)
        return 200, {"prompt_id": prompt_id, "number": number, "node_errors": {}}

    def queue_state(self) -> dict:
        with self._lock:
            running = [[self._prompts[self._running].number, self._running, {}, {}, []]] if self._running else []
            pending = [[self._prompts[p].number, p, {}, {}, []] for p in self._pending]
        return {"queue_running": running, "queue_pending": pending}

    def node_interrupt(self, prompt_id: str | None) -> None:
        prompt = self._prompts.get(prompt_id or "")
        if prompt is not None:
            self._set_status(prompt, "cancelled")

    def comfy_interrupt(self, prompt_id: str | None) -> None:
        with self._lock:
            target = prompt_id or self._running
        prompt = self._prompts.get(target or "")
        if prompt is not None and target == self._running:
            prompt.interrupted.set()

    def delete_from_queue(self, prompt_ids: list[str]) -> None:
        with self._lock:
            self._pending = [p for p in self._pending if p not in prompt_ids]

    # ---- execution ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            prompt = self._queue.get()
            if prompt is None:
                return
            with self._lock:
                if prompt.id not in self._pending:
                    continue  # deleted from the queue before it started
                self._pending.remove(prompt.id)
                self._running = prompt.id
            try:
                self._execute(prompt)
            finally:
                with self._lock:
                    self._running = None

    def _event(self, prompt: Prompt, name: str, data: dict) -> None:
        if not prompt.data:
            return
        self._post(prompt, {"run_id": prompt.id, "ws_event": {"event": name, "data": {**data, "prompt_id": prompt.id},
                                                               "gpu_event_id": prompt.data.get("gpu_event_id")}})

    def _set_status(self, prompt: Prompt, status: str) -> None:
        # The node posts a status only when it changes, and nothing after failed.
        if prompt.status == status or prompt.status == "failed" or not prompt.data:
            return
        prompt.status = status
        self._post(prompt, {"run_id": prompt.id, "status": status, "gpu_event_id": prompt.data.get("gpu_event_id")})

    def _execute(self, prompt: Prompt) -> None:
        gpu_event_id = prompt.data.get("gpu_event_id")
        api = prompt.workflow_api
        self._event(prompt, "execution_start", {"timestamp": int(time.time() * 1000)})
        self._set_status(prompt, "running")
        self._event(prompt, "execution_cached", {"nodes": [], "timestamp": int(time.time() * 1000)})
        order = _topological(api)
        results: dict[str, tuple] = {}
        timings: list[dict] = []
        uploads: list = []
        executed_count = 0

        def sleep(seconds: float) -> None:
            if prompt.interrupted.wait(seconds):
                raise Interrupted()

        try:
            for node_id in order:
                node = api[node_id]
                class_type = node["class_type"]
                if prompt.interrupted.is_set():
                    raise Interrupted()
                self._event(prompt, "executing", {"node": node_id, "display_node": node_id})
                executed_count += 1
                self._post(prompt, {"run_id": prompt.id, "live_status": f"Executing {class_type}",
                                    "progress": round(executed_count / len(api), 2), "gpu_event_id": gpu_event_id})
                inputs = {k: (results[v[0]][v[1]] if _is_link(v) else v) for k, v in node.get("inputs", {}).items()}
                started = time.perf_counter()
                if self.node_delay:
                    sleep(self.node_delay)
                ctx = ExecutionContext(
                    save=lambda prefix, ext, data, temp=False: self._save(prefix, ext, data),
                    sleep=sleep,
                    progress=lambda value, maximum, node_id=node_id: self._event(
                        prompt, "progress", {"value": value, "max": maximum, "node": node_id}))
                try:
                    outputs, ui = execute_node(class_type, inputs, ctx)
                except NodeError as exc:
                    timings.append(_timing(node_id, class_type, started))
                    self._fail(prompt, node_id, class_type, exc, [n for n in order[:order.index(node_id)]])
                    self._finish(prompt, timings)
                    return
                results[node_id] = outputs
                timings.append(_timing(node_id, class_type, started))
                if ui is not None:
                    self._event(prompt, "executed", {"node": node_id, "display_node": node_id, "output": ui})
                    if class_type != "PreviewImage":
                        uploads.extend(self._report_output(prompt, node_id, class_type, ui))
        except Interrupted:
            self._event(prompt, "execution_interrupted", {"node_id": None, "executed": list(results),
                                                          "timestamp": int(time.time() * 1000)})
            return
        self._event(prompt, "execution_success", {"timestamp": int(time.time() * 1000)})
        self._finish(prompt, timings)
        for future in uploads:
            future.result()
        if uploads and prompt.data.get("file_upload_endpoint"):
            self._set_status(prompt, "success")  # only after every upload finished (reference §6.3 F)

    def _finish(self, prompt: Prompt, timings: list[dict]) -> None:
        self._event(prompt, "executing", {"node": None})
        self._post(prompt, {"run_id": prompt.id, "output_data": timings, "node_meta": None, "gpu_event_id": None})

    def _fail(self, prompt: Prompt, node_id: str, class_type: str, exc: NodeError, executed: list[str]) -> None:
        error = {"prompt_id": prompt.id, "node_id": node_id, "node_type": class_type, "executed": executed,
                 "exception_message": f"{exc}\n", "exception_type": exc.exception_type,
                 "traceback": [f'  File "simulated/{class_type}.py", line 1, in execute\n'],
                 "current_inputs": {}, "current_outputs": {}, "timestamp": int(time.time() * 1000)}
        self._event(prompt, "execution_error", error)
        self._post(prompt, {"run_id": prompt.id, "output_data": error, "node_meta": None, "gpu_event_id": None})
        self._set_status(prompt, "failed")

    def _report_output(self, prompt: Prompt, node_id: str, class_type: str, ui: dict) -> list:
        media = {k: v for k, v in ui.items() if k in MEDIA_KEYS}
        if not media:
            self._post(prompt, {"run_id": prompt.id, "output_data": ui,
                                "node_meta": {"node_id": node_id, "node_class": class_type}, "gpu_event_id": None})
            return []
        endpoint = prompt.data.get("file_upload_endpoint")
        items = [item for values in media.values() for item in values if item.get("type") != "temp"]
        if not endpoint or not items:
            return []
        return [self._uploads.submit(self._upload_node, prompt, node_id, items)]

    def _upload_node(self, prompt: Prompt, node_id: str, items: list[dict]) -> None:
        done = {"images": [], "files": []}
        for item in items:
            uploaded = self._upload(prompt, item)
            if uploaded is not None:
                done["images" if uploaded.pop("_content_type").startswith("image/") else "files"].append(uploaded)
        body = {k: v for k, v in done.items() if v}
        if body:  # nothing is reported when every upload of the node failed
            self._post(prompt, {"run_id": prompt.id, "output_data": body, "node_meta": {"node_id": node_id}})

    def _upload(self, prompt: Prompt, item: dict) -> dict | None:
        filename = item["filename"]
        ext = filename[filename.rfind("."):].lower() if "." in filename else ""
        content_type = CONTENT_TYPES.get(ext, "application/octet-stream")
        endpoint = prompt.data["file_upload_endpoint"]
        url = (f"{endpoint}?file_name={quote(filename)}&run_id={quote(prompt.id)}&type={quote(content_type)}"
               f"&version=v2")
        started = time.perf_counter()
        reply = self._request(prompt, "GET", url, None)
        if reply is None:
            return None
        try:
            info = reply.json()
        except ValueError:
            return None
        data = self.outputs[filename]
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        if info.get("include_acl"):
            headers["x-amz-acl"] = "public-read"
        for attempt in range(5):
            try:
                put = requests.put(info["url"], data=data, headers=headers, timeout=300)
                self.callbacks.append({"method": "PUT", "url": info["url"], "status": put.status_code})
                if 200 <= put.status_code < 300:
                    break
            except requests.RequestException:
                pass
            time.sleep(self.retry_delay * 2 ** attempt)
        else:
            return None
        uploaded = {**item, "url": info.get("download_url"), "upload_duration": round(time.perf_counter() - started, 4),
                    "_content_type": content_type}
        if "is_public" in info:
            uploaded["is_public"] = info["is_public"]
        return uploaded

    def _save(self, prefix: str, ext: str, data: bytes) -> str:
        with self._lock:
            count = sum(1 for name in self.outputs if name.startswith(prefix)) + 1
            filename = f"{prefix}_{count:05d}_.{ext}"
            self.outputs[filename] = data
        return filename

    # ---- callbacks ---------------------------------------------------------------------------------
    def _post(self, prompt: Prompt, body: dict) -> None:
        endpoint = prompt.data.get("status_endpoint") if prompt.data else None
        if not endpoint:
            return
        bodies = [body, body] if self.duplicate_callbacks else [body]
        if self.shuffle_callbacks and random.random() < 0.5:
            # Fire this one a little later, so its neighbour overtakes it.
            for b in bodies:
                threading.Timer(0.05, self._request, (prompt, "POST", endpoint, b)).start()
            return
        for b in bodies:
            self._request(prompt, "POST", endpoint, b)

    def _request(self, prompt: Prompt, method: str, url: str, body: dict | None):
        headers = {"Authorization": f"Bearer {prompt.token}"} if prompt.token else {}
        for attempt in range(5):  # the node's async_request_with_retry: 5 tries, 1/2/4/8 s apart
            try:
                response = requests.request(method, url, json=body, headers=headers, timeout=(5, 60))
                self.callbacks.append({"method": method, "url": url, "body": body, "status": response.status_code})
                if response.status_code < 400:
                    return response
            except requests.RequestException as exc:
                self.callbacks.append({"method": method, "url": url, "body": body, "status": None, "error": str(exc)})
            if attempt < 4:
                time.sleep(self.retry_delay * 2 ** attempt)
        return None


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _timing(node_id: str, class_type: str, started: float) -> dict:
    return {"id": node_id, "time": round(time.perf_counter() - started, 4), "class_type": class_type, "vram_used": 0}


def _topological(api: dict[str, Any]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in api[node_id].get("inputs", {}).values():
            if _is_link(value) and str(value[0]) in api:
                visit(str(value[0]))
        order.append(node_id)

    for node_id in sorted(api, key=lambda k: (len(k), k)):
        visit(node_id)
    return order
