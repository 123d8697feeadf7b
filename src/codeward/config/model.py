"""Typed settings. The loader validates raw TOML into these; the rest of the program reads only these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeward.modes import Mode

WIRE_APIS: tuple[str, ...] = ("chat", "responses")


@dataclass(frozen=True)
class ProviderConfig:
    """One model endpoint, in the seed guide's form (``baseURL``, ``envKey``, ...)."""

    id: str
    name: str
    base_url: str
    env_key: str | None = None
    wire_api: str = "chat"
    headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    key_command: tuple[str, ...] | None = None
    key_command_timeout_ms: int = 10_000
    requires_key: bool = True
    request_max_retries: int = 4
    stream_max_retries: int = 3
    stream_idle_timeout_ms: int = 120_000
    connect_timeout_ms: int = 10_000


@dataclass(frozen=True)
class PolicyEntry:
    """A pattern from a policy list and where it came from (``AGENTS.md:14``, a config path)."""

    pattern: str
    source: str
    user_owned: bool = True


@dataclass
class PolicyConfig:
    disallow_commands: list[PolicyEntry] = field(default_factory=list)
    allow_commands: list[PolicyEntry] = field(default_factory=list)
    allow_directories: list[PolicyEntry] = field(default_factory=list)
    disallow_directories: list[PolicyEntry] = field(default_factory=list)


@dataclass
class SandboxConfig:
    network: bool = False
    allowed_domains: list[str] = field(default_factory=list)
    env_passthrough: list[str] = field(default_factory=list)
    writable_roots: list[str] = field(default_factory=list)
    readable_roots: list[str] = field(default_factory=list)
    """Host directories outside the workspace (other projects, /srv, /mnt...) commands may read."""
    timeout_ms: int = 120_000
    output_cap_bytes: int = 256 * 1024
    max_file_size_bytes: int = 1024 * 1024 * 1024
    max_processes: int = 512
    tier: str = "auto"
    unsafe_allow_unsandboxed: bool = False
    keep_warm_s: int = 600
    """How long a ``codeward sandbox`` server keeps a large workspace's view for the next command
    (:mod:`codeward.cli.sandbox_warm`); 0: none is started."""


@dataclass
class PrivacyConfig:
    redact_pii: bool = False
    rules: list[str] = field(default_factory=list)
    allowlist: list[str] = field(default_factory=list)


@dataclass
class AuditConfig:
    enabled: bool = True
    dir: str | None = None
    sink: str | None = None
    """Where records are streamed as written: syslog+tcp://HOST:PORT or an http(s) JSON-lines URL."""
    require_sink: bool = False
    """Refuse to start a session when the sink cannot be reached."""


@dataclass
class HistoryConfig:
    persistence: str = "save-all"


@dataclass(frozen=True)
class Refusal:
    """A value a repository tried to set and the table of trust refused (``codeward config explain``)."""

    key: str
    value: Any
    origin: str
    why: str

    def notice(self) -> str:
        return f"ignored {self.key} from {self.origin}: {self.why}; set it in your own config.toml or with a flag"


@dataclass
class Config:
    provider: str = "openai"
    model: str = "gpt-5"
    approval_mode: Mode = "suggest"
    max_steps: int = 60
    model_context_window: int | None = None
    """Tokens the model accepts (Codex's key); None: the built-in table or the server's report."""
    model_auto_compact_token_limit: int | None = None
    """Compact the history before a request would pass this many tokens; None: 90% of the window."""
    model_reasoning_effort: str | None = None
    model_reasoning_summary: str | None = None
    request_timeout_ms: int = 120_000
    """A model request (retries included) that has not completed by then fails the turn."""
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    notices: list[str] = field(default_factory=list)
    """Warnings found while loading (for example a repository config key that was ignored)."""
    origins: dict[str, str] = field(default_factory=dict)
    """Where each effective value came from, by dotted key: ``FILE:LINE``, ``-c KEY``, ``--flag``,
    ``built-in default``, ``profile NAME (FILE:LINE)``, ``built-in provider``."""
    refusals: list[Refusal] = field(default_factory=list)
    """What a repository tried to set and was refused (each is also in ``notices``)."""

    @property
    def provider_config(self) -> ProviderConfig:
        return self.providers[self.provider]
