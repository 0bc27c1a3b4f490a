"""The URLs a connector body calls, and how ML Commons' trusted-endpoint and private-address rules see them."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Iterable
from urllib.parse import urlsplit


def endpoint_urls(body: dict) -> list[str]:
    """The connector's action URLs with its parameters filled in, as ML Commons checks them."""
    params = {k: v for k, v in body.get("parameters", {}).items() if isinstance(v, str)}
    urls = []
    for action in body.get("actions", []):
        url = action.get("url", "")
        for key, value in params.items():
            url = url.replace("${parameters.%s}" % key, value)
        urls.append(url)
    return urls


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as written (what a trusted-endpoint regex pins)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def endpoint_regex(url: str) -> str:
    """The narrowest regex that trusts every path of ``url``'s scheme, host and port."""
    return "^" + re.escape(origin(url)) + "/.*$"


def is_trusted(url: str, regexes: Iterable[str]) -> bool:
    """True when any regex matches the whole URL (Java ``Matcher.matches`` semantics)."""
    for regex in regexes:
        try:
            if re.fullmatch(regex, url):
                return True
        except re.error:
            continue
    return False


def is_private(url: str) -> bool:
    """True when the URL's host is loopback, private or link-local (ML Commons blocks those by default)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return any(a.is_private or a.is_loopback or a.is_link_local or a.is_unspecified for a in addresses)
