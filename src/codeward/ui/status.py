"""The status line: where requests go, what may happen without asking, and how commands are confined.

Pure functions over the project, so the same words appear before every prompt, in ``/status`` and in
the unit tests. The provider kind answers the question a user has before typing anything: does my
code leave this machine (local), stay inside my company (enterprise) or go to a public API (public)?
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from codeward.project import Project

# Hosts of public model APIs. Anything not loopback and not listed is a custom endpoint someone set
# up (an enterprise proxy, a gateway, a server on the LAN), shown as "enterprise".
PUBLIC_HOSTS = frozenset(
    {
        "api.openai.com",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "api.mistral.ai",
        "api.groq.com",
        "api.together.xyz",
        "api.together.ai",
        "api.deepseek.com",
        "api.x.ai",
        "api.fireworks.ai",
        "openrouter.ai",
        "api.perplexity.ai",
        "api.cohere.com",
        "api.cohere.ai",
        "api.cerebras.ai",
        "api-inference.huggingface.co",
        "router.huggingface.co",
        "models.inference.ai.azure.com",
        "models.github.ai",
    }
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def endpoint_host(base_url: str) -> str:
    """The host name of a base URL, lower-case, without port or brackets ("" when it has none)."""
    try:
        return (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return ""


def provider_kind(base_url: str) -> str:
    """``local`` (this machine), ``public`` (a known public API) or ``enterprise`` (any other endpoint)."""
    host = endpoint_host(base_url)
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return "local"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return "local"
    except ValueError:
        pass
    if host in PUBLIC_HOSTS:
        return "public"
    return "enterprise"


@dataclass(frozen=True)
class Status:
    """Everything the status line shows; built from a config and the probed sandbox tier."""

    model: str
    provider: str
    kind: str
    host: str
    mode: str
    sandbox: str
    network: str
    context: str = ""
    """``12.3k/128k tokens``: the context the last request used, of the model's window."""

    @classmethod
    def of(cls, project: Project, sandbox_tier: str) -> Status:
        config = project.config
        provider = config.provider_config
        return cls(
            model=config.model,
            provider=provider.id,
            kind=provider_kind(provider.base_url),
            host=endpoint_host(provider.base_url),
            mode=project.mode,
            sandbox=sandbox_tier,
            network=project.network,
        )

    @property
    def sandbox_ok(self) -> bool:
        return not self.sandbox.startswith("unavailable")


def sandbox_label(tier: str, width: int = 60) -> str:
    """The tier, or ``unavailable: <why>`` cut to ``width`` characters (the full reason is in /status)."""
    if len(tier) <= width:
        return tier
    return tier[: width - 1].rstrip() + "…"


def status_line(s: Status) -> str:
    """One line: ``gpt-5 · openai (public) · suggest · sandbox bwrap · network off``."""
    return " · ".join(
        [
            s.model,
            f"{s.provider} ({s.kind})",
            s.mode,
            f"sandbox {sandbox_label(s.sandbox)}",
            f"network {s.network}",
            *([f"context {s.context}"] if s.context else []),
        ]
    )


def context_usage(used: int, window: int) -> str:
    """``12.3k/128k tokens (10%)``: what the status line shows of the context window."""

    def k(n: int) -> str:
        if n < 1000:
            return str(n)
        return f"{n / 1000:.1f}k".replace(".0k", "k")

    pct = round(100 * used / window) if window else 0
    return f"{k(used)}/{k(window)} tokens ({pct}%)"


def status_report(
    s: Status,
    *,
    session_id: str,
    workspace: str,
    endpoint: str,
    key_source: str,
    requests: int,
    sent_bytes: int,
    tokens: dict[str, int],
    changes: int,
    audit_log: str | None,
) -> list[str]:
    """The lines of ``/status``: the status line spelled out, plus what this session has done so far."""
    key = key_source or "none"  # "env:NAME", "keychain:<backend>", "file:<path>": where, never the key
    rows = [
        ("session", session_id),
        ("workspace", workspace),
        ("model", s.model),
        ("provider", f"{s.provider} ({s.kind}) {endpoint}"),
        ("api key from", key),
        *([("context", s.context)] if s.context else []),
        ("approval mode", s.mode),
        ("sandbox", s.sandbox),
        ("network", s.network),
        ("requests sent", f"{requests} ({format_bytes(sent_bytes)})"),
        (
            "tokens",
            f"{tokens.get('input_tokens', 0)} in ({tokens.get('cached_input_tokens', 0)} cached), "
            f"{tokens.get('output_tokens', 0)} out",
        ),
        ("patches applied", str(changes)),
        ("audit log", audit_log or "off"),
    ]
    width = max(len(k) for k, _ in rows)
    return [f"{k.ljust(width)}  {v}" for k, v in rows]


def format_bytes(n: int) -> str:
    """``812 B``, ``12.4 KB``, ``3.1 MB``: the privacy line's units."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"
