"""The storage interface every backend implements."""
from __future__ import annotations

from typing import BinaryIO, Protocol


class Storage(Protocol):
    name: str

    def presign_put(self, key: str, content_type: str, base_url: str, expires: int,
                    max_size: int | None = None, exact_size: int | None = None) -> tuple[str, bool]:
        """URL a client PUTs the bytes to (with this Content-Type); returns (url, include_acl)."""

    def presign_get(self, key: str, base_url: str, expires: int, download_name: str | None = None) -> str:
        """Time-limited URL to read the object."""

    def put_file(self, key: str, fileobj: BinaryIO, content_type: str) -> int:
        """Store a stream; returns its size."""

    def size(self, key: str) -> int | None:
        """Size of the object, or None when it does not exist."""

    def read(self, key: str) -> bytes:
        """The whole object (for small objects and tests)."""

    def delete(self, key: str) -> None:
        """Remove the object if it exists."""
