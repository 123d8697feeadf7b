"""Assemble a working agent from the command line, the config and the workspace.

``exec`` and the interactive session both start here, so they enforce exactly the same rules: the
same policy, ignore rules, scanner, gate and sandbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codeward import __version__
from codeward.agent.approvals import Approver
from codeward.agent.events import EventBus, ItemIds
from codeward.agent.history import SavedSession, SessionWriter
from codeward.agent.instructions import build_preamble
from codeward.agent.loop import Agent
from codeward.config.home import codeward_home
from codeward.config.load import ConfigOverrides, load_config
from codeward.config.model import Config
from codeward.privacy.gate import Gate
from codeward.privacy.ledger import Ledger
from codeward.providers.client import ModelClient, endpoint_url, wire_format
from codeward.providers.types import Message
from codeward.tools import default_tools
from codeward.tools.base import ToolContext
from codeward.workspace import Workspace


@dataclass
class Session:
    session_id: str
    config: Config
    workspace: Workspace
    home: Path
    events: EventBus
    gate: Gate
    agent: Agent
    ctx: ToolContext
    ledger: Ledger
    sandbox_tier: str
    key_source: str
    notices: list[str] = field(default_factory=list)
    writer: SessionWriter | None = None

    def set_mode(self, mode: str) -> None:
        self.ctx.mode = mode
        self.config.approval_mode = mode

    def save(self) -> None:
        """Write the conversation so far (redacted) unless persistence is off."""
        if self.writer is not None:
            self.writer.save(self.agent.items)

    def clear(self) -> None:
        """A new task: fresh context (and a marker in the saved session)."""
        self.save()
        self.agent.clear()
        if self.writer is not None:
            self.writer.mark_cleared()

    def close(self) -> None:
        self.save()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def probe_sandbox_tier(config: Config) -> str:
    """The tier commands will run under, or ``unavailable: <why>`` (commands are then refused)."""
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox(config.sandbox.tier, allow_unsandboxed=config.sandbox.unsafe_allow_unsandboxed).tier
    except SandboxUnavailable as e:
        return f"unavailable: {e.message}"


def build_session(
    cwd: Path,
    overrides: ConfigOverrides,
    *,
    events: EventBus,
    approver: Callable[[str], Approver],
    need_key: bool = True,
    session_id: str | None = None,
    on_config: Callable[[Config, str], None] | None = None,
    resume: SavedSession | None = None,
    persist: bool = True,
) -> Session:
    """Load everything for a run in ``cwd``.

    ``approver(mode)`` makes the one who answers "ask"; ``on_config(config, run_id)`` runs as
    soon as the config is known, before any event, so the caller can attach the audit log.
    """
    from codeward.auth.keys import known_secrets, require_key, resolve_key
    from codeward.policy import load_policy
    from codeward.privacy.ignore import load_ignore
    from codeward.privacy.redact import Redactor
    from codeward.privacy.scanner import load_scanner
    from codeward.sandbox import select_sandbox

    config = load_config(cwd, overrides)
    sid = resume.session_id if resume is not None else (session_id or str(uuid.uuid4()))
    # each run gets its own sealed audit log; a resumed conversation keeps its id but not its log
    run_id = str(uuid.uuid4()) if resume is not None else sid
    if on_config is not None:
        on_config(config, run_id)
    workspace = Workspace.discover(cwd)
    home = codeward_home()
    policy = load_policy(workspace, config, home)
    ignore = load_ignore(workspace, home, [(e.pattern, e.source, e.user_owned) for e in policy.disallow_directories])
    scanner = load_scanner(
        rule_files=tuple(Path(p).expanduser() for p in config.privacy.rules),
        redact_pii=config.privacy.redact_pii,
        allowlist=tuple(config.privacy.allowlist),
    )
    provider = config.provider_config
    url = endpoint_url(provider)
    ledger = Ledger()

    def on_egress(entry: object) -> None:
        ledger.add(entry)  # type: ignore[arg-type]
        events.emit(entry.to_event())  # type: ignore[attr-defined]

    key = require_key(provider) if need_key else resolve_key(provider)
    from codeward.privacy.learn import WorkspaceSecrets

    redactor = Redactor(
        scanner,
        known_values=known_secrets,
        learner=WorkspaceSecrets(workspace.root, scanner, background=True, cache_dir=home / "cache"),
    )
    from codeward.privacy.config_secrets import secret_values

    for v in secret_values(provider.headers, provider.query_params):  # configured keys are keys too
        redactor.known.add(v, "codeward-api-key")
    gate = Gate(redactor, host=url.split("/")[2], url=url, on_egress=on_egress)
    client = None
    if need_key:
        client = ModelClient(
            provider,
            key.value,
            on_retry=lambda msg: events.emit({"type": "error", "message": f"Reconnecting... {msg}"}),
        )
    tier = probe_sandbox_tier(config)
    ctx = ToolContext(
        workspace=workspace,
        config=config,
        ignore=ignore,
        policy=policy,
        approver=approver(config.approval_mode),
        events=events,
        gate=gate,
        ids=ItemIds(),
        mode=config.approval_mode,
        home=home,
        sandbox_factory=lambda: select_sandbox(
            config.sandbox.tier, allow_unsandboxed=config.sandbox.unsafe_allow_unsandboxed
        ),
    )
    network = (
        "on"
        if config.sandbox.network
        else ("only " + ", ".join(config.sandbox.allowed_domains) if config.sandbox.allowed_domains else "off")
    )
    pre = build_preamble(workspace, home, mode=config.approval_mode, network=network, sandbox=tier, ignore=ignore)
    agent = Agent(
        model=config.model,
        wire=wire_format(provider),
        gate=gate,
        tools=default_tools(),
        ctx=ctx,
        events=events,
        preamble=Message("developer", pre.text, files=pre.files),
        max_steps=config.max_steps,
        client=client,
    )
    session = Session(
        session_id=sid,
        config=config,
        workspace=workspace,
        home=home,
        events=events,
        gate=gate,
        agent=agent,
        ctx=ctx,
        ledger=ledger,
        sandbox_tier=tier,
        key_source=key.source,
        notices=[*config.notices, *pre.notices],
    )
    if resume is not None:
        # the saved conversation, behind today's preamble (AGENTS.md may have changed since)
        agent.items = [agent.preamble, *resume.items[1:]] if resume.items else [agent.preamble]
    if persist and config.history.persistence == "save-all":
        session.writer = SessionWriter(
            home,
            sid,
            {"cwd": str(workspace.cwd), "provider": provider.id, "model": config.model},
            lambda text: gate.redact_text(text)[0],
            path=resume.path if resume is not None else None,
        )
        if resume is not None:
            session.writer.saved = len(agent.items)
    events.emit(
        {
            "type": "session.started",
            "session_id": sid,
            "run_id": run_id,
            "resumed": resume is not None,
            "version": __version__,
            "cwd": str(workspace.cwd),
            "workspace": str(workspace.root),
            "provider": provider.id,
            "endpoint": url,
            "model": config.model,
            "approval_mode": config.approval_mode,
            "sandbox": tier,
            "network": network,
            "key_source": key.source.split(":", 1)[0],
        }
    )
    return session
