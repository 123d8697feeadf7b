"""Ask an Ollama server how large a model's context window is (``POST /api/show``).

Ollama serves a model with ``num_ctx`` tokens of context (a model parameter, else the server's
default) and silently drops the start of a longer prompt instead of refusing it, so codeward has to
know the window to compact in time. Only the model's name is sent; the answer is metadata.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from codeward.providers.http import httpx

OLLAMA_PORT = 11434
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


def is_ollama(base_url: str, provider_id: str) -> bool:
    return provider_id == "ollama" or urlsplit(base_url).port == OLLAMA_PORT


def show_url(base_url: str) -> str:
    """``http://host:11434/v1`` -> ``http://host:11434/api/show``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[:-3]
    return urlunsplit((parts.scheme, parts.netloc, path + "/api/show", "", ""))


def window_from_show(data: Any) -> int | None:
    """The window from an ``/api/show`` answer: ``num_ctx`` when set, else the model's trained length."""
    if not isinstance(data, dict):
        return None
    params = data.get("parameters")
    if isinstance(params, str):
        m = _NUM_CTX.search(params)
        if m:
            return int(m.group(1))
    info = data.get("model_info")
    if isinstance(info, dict):
        for key, value in info.items():
            if key.endswith(".context_length") and isinstance(value, int) and value > 0:
                return value
    return None


def ollama_window(base_url: str, model: str, *, timeout_s: float = 3.0) -> int | None:
    """The window Ollama reports for ``model``, or None when it cannot say (not fatal)."""
    try:
        with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
            resp = client.post(show_url(base_url), content=json.dumps({"model": model}).encode())
            if resp.status_code != 200:
                return None
            return window_from_show(resp.json())
    except (httpx.HTTPError, ValueError):
        return None
