"""Checks on URLs this server will fetch or post to (model downloads, webhooks)."""
from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from ..errors import Invalid


def check_http_url(url: Any, field: str = "url") -> str:
    """An http(s) URL with a host, without credentials; raises Invalid naming the field."""
    if not isinstance(url, str) or not url.strip() or len(url) > 2048:
        raise Invalid(f"{field} must be an http(s) URL", {field: ["Must be an http(s) URL."]})
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{field} must be an http(s) URL with a host", {field: ["Must be an http(s) URL with a host."]})
    if parts.username or parts.password:
        raise Invalid(f"{field} must not carry credentials", {field: ["Remove the user:password part."]})
    return url


def host_is_private(url: str) -> bool:
    """Whether the URL's host resolves to a private, loopback, link-local or reserved address (SSRF guard)."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False  # unresolvable: the request fails with a clear reason
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return True
    return False
