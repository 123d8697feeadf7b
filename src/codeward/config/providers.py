"""The built-in providers (DESIGN §2) and how a checked provider table becomes a :class:`ProviderConfig`."""

from __future__ import annotations

import os
from typing import Any

from codeward.config.model import ProviderConfig


def builtin_providers() -> dict[str, dict[str, Any]]:
    """Raw tables of the built-in providers; ``OPENAI_BASE_URL`` moves the openai one."""
    return {
        "openai": {
            "name": "OpenAI",
            "base_url": os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
            "env_key": "OPENAI_API_KEY",
            "wire_api": "responses",
            "requires_key": True,
        },
        "ollama": {
            "name": "Ollama",
            "base_url": "http://localhost:11434/v1",
            "wire_api": "chat",
            "requires_key": False,
        },
        "lmstudio": {
            "name": "LM Studio",
            "base_url": "http://localhost:1234/v1",
            "wire_api": "chat",
            "requires_key": False,
        },
    }


def provider_from_table(pid: str, t: dict[str, Any]) -> ProviderConfig:
    """A checked, canonical provider table (see ``PROVIDER_KEYS``) as a ProviderConfig."""
    return ProviderConfig(
        id=pid,
        name=t.get("name", pid),
        base_url=t["base_url"],
        env_key=t.get("env_key"),
        wire_api=t.get("wire_api", "chat"),
        headers=t.get("headers", {}),
        query_params=t.get("query_params", {}),
        key_command=tuple(t["key_command"]) if t.get("key_command") else None,
        key_command_timeout_ms=t.get("key_command_timeout_ms", 10_000),
        requires_key=t.get("requires_key", bool(t.get("env_key") or t.get("key_command"))),
        request_max_retries=t.get("request_max_retries", 4),
        stream_max_retries=t.get("stream_max_retries", 3),
        stream_idle_timeout_ms=t.get("stream_idle_timeout_ms", 120_000),
        connect_timeout_ms=t.get("connect_timeout_ms", 10_000),
    )
