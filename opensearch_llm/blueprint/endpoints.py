"""The URLs a connector body calls (what ML Commons checks against its trusted-endpoint list)."""

from __future__ import annotations


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
