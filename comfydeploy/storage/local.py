"""Local folder storage. Upload and download URLs point at this app, signed with HMAC and expiring."""
from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import time
from pathlib import Path
from typing import Any, BinaryIO, Mapping
from urllib.parse import quote, urlencode


class LocalStorage:
    name = "local"

    def __init__(self, config: Mapping[str, Any]):
        self.root = Path(config["STORAGE_LOCAL_PATH"]).resolve()
        self.secret = config["SECRET_KEY"].encode()

    # ---- paths and signatures -------------------------------------------------------------------
    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    def sign(self, method: str, key: str, expires: int, content_type: str = "", max_size: str = "",
             exact_size: str = "") -> str:
        message = "\n".join([method, key, str(expires), content_type, max_size, exact_size]).encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, method: str, key: str, params: Mapping[str, str]) -> str | None:
        """None when the signed URL is valid now, else the reason it is not."""
        try:
            expires = int(params.get("expires", ""))
        except ValueError:
            return "missing or malformed expires"
        if expires < time.time():
            return "URL has expired"
        expected = self.sign(method, key, expires, params.get("ct", ""), params.get("max", ""), params.get("size", ""))
        if not hmac.compare_digest(expected, params.get("sig", "")):
            return "bad signature"
        return None

    def _url(self, base_url: str, key: str, query: dict[str, str]) -> str:
        return f"{base_url.rstrip('/')}/storage/{quote(key)}?{urlencode(query)}"

    # ---- interface ------------------------------------------------------------------------------
    def presign_put(self, key: str, content_type: str, base_url: str, expires: int,
                    max_size: int | None = None, exact_size: int | None = None) -> tuple[str, bool]:
        until = int(time.time()) + expires
        max_s = str(max_size or "")
        exact_s = str(exact_size or "")
        query = {"expires": str(until), "ct": content_type}
        if max_s:
            query["max"] = max_s
        if exact_s:
            query["size"] = exact_s
        query["sig"] = self.sign("PUT", key, until, content_type, max_s, exact_s)
        return self._url(base_url, key, query), False

    def presign_get(self, key: str, base_url: str, expires: int, download_name: str | None = None) -> str:
        until = int(time.time()) + expires
        return self._url(base_url, key, {"expires": str(until), "sig": self.sign("GET", key, until)})

    def put_file(self, key: str, fileobj: BinaryIO, content_type: str, limit: int | None = None) -> int:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.part")
        written = 0
        try:
            with open(tmp, "wb") as out:
                while True:
                    chunk = fileobj.read(1024 * 1024)
                    if not chunk:
                        break
                    written += len(chunk)
                    if limit is not None and written > limit:
                        raise OverflowError(f"upload is larger than {limit} bytes")
                    out.write(chunk)
            os.replace(tmp, path)  # readers never see a half-written object
        finally:
            tmp.unlink(missing_ok=True)
        return written

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, ValueError):
            return None

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def copy_from_path(self, key: str, source: Path) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
