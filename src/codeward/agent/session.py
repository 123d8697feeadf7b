"""A working agent on a :class:`~codeward.project.Project`: gate, model client, tools, preamble.

``exec`` and the interactive session both start here, so they enforce exactly the same rules: the
project's policy, ignore rules, scanner and sandbox, behind one gate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from codeward import __version__
from codeward.agent.history import SavedSession, SessionWriter
from codeward.agent.instructions import build_preamble
from codeward.agent.loop import Agent
from codeward.agent.window import context_tracker, window_notices
from codeward.config.load import ConfigOverrides
from codeward.config.model import Config
from codeward.events import Error, EventBus, ItemIds, SessionStarted
from codeward.modes import Mode
from codeward.privacy.gate import Gate
from codeward.privacy.ledger import Ledger, LedgerEntry
from codeward.providers.client import ModelClient, endpoint_url, wire_format
from codeward.providers.types import Message
from codeward.tools import default_tools
from codeward.tools.asking import Approver
from codeward.tools.base import ToolContext
from codeward.workspace import Workspace

if TYPE_CHECKING:
    from codeward.agent.context import ContextTracker
    from codeward.project import Project


@dataclass
class Session:
    """One conversation over one :class:`Project` (held by the tool context, its single owner)."""

    session_id: str
    events: EventBus
    gate: Gate
    agent: Agent
    ctx: ToolContext
    ledger: Ledger
    sandbox_tier: str
    key_source: str
    notices: list[str] = field(default_factory=list)
    writer: SessionWriter | None = None

    @property
    def project(self) -> Project:
        return self.ctx.project

    @property
    def config(self) -> Config:
        return self.project.config

    @property
    def workspace(self) -> Workspace:
        return self.project.workspace

    @property
    def home(self) -> Path:
        return self.project.home

    def set_model(self, model: str, context: ContextTracker) -> None:
        """Another model (``/model``): a derived project, and the agent's window for that model."""
        self.ctx.project = self.project.with_model(model)
        self.agent.set_model(model, context)

    def set_mode(self, mode: Mode) -> None:
        """Another approval mode: a derived project (same policy, same hidden paths) and a true preamble."""
        self.ctx.project = self.project.with_mode(mode)
        self._refresh_preamble()

    def _refresh_preamble(self) -> None:
        """The preamble names the mode and carries AGENTS.md; rebuild it from the current project."""
        pre = build_preamble(self.project, sandbox=self.sandbox_tier)
        new = Message("developer", pre.text, files=pre.files)
        agent = self.agent
        if agent.items and agent.items[0] is agent.preamble:
            agent.items[0] = new
        agent.preamble = new

    def save(self) -> None:
        """Write the conversation so far (redacted) unless persistence is off."""
        if self.writer is not None:
            self.writer.save(self.agent.items, self.agent.compactions)

    def clear(self) -> None:
        """A new task: the project opened afresh (same mode), a fresh context, a marker in the saved session."""
        from codeward.project import open_project

        self.save()
        project = self.project
        self.ctx.project = open_project(project.workspace.cwd, project.overrides).with_mode(project.mode)
        self._refresh_preamble()
        self.agent.clear()
        if self.writer is not None:
            self.writer.mark_cleared()

    def close(self) -> None:
        self.save()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def build_session(
    cwd: Path,
    overrides: ConfigOverrides,
    *,
    events: EventBus,
    approver: Approver,
    need_key: bool = True,
    session_id: str | None = None,
    on_project: Callable[[Project, str], None] | None = None,
    resume: SavedSession | None = None,
    persist: bool = True,
) -> Session:
    """Open the project in ``cwd`` and build a session on it.

    ``approver`` answers "ask"; ``on_project(project, run_id)`` runs as soon as the project is
    known, before any event, so the caller can attach the audit log.
    """
    from codeward.auth.keys import known_secrets, remember_secret, require_key, resolve_key
    from codeward.privacy.redact import Redactor
    from codeward.project import open_project

    project = open_project(cwd, overrides)
    config, workspace, home = project.config, project.workspace, project.home
    sid = resume.session_id if resume is not None else (session_id or str(uuid.uuid4()))
    # each run gets its own sealed audit log; a resumed conversation keeps its id but not its log
    run_id = str(uuid.uuid4()) if resume is not None else sid
    if on_project is not None:
        on_project(project, run_id)
    provider = config.provider_config
    url = endpoint_url(provider)
    ledger = Ledger()

    def on_egress(entry: LedgerEntry) -> None:
        ledger.add(entry)
        events.emit(entry.to_event())

    key = require_key(provider) if need_key else resolve_key(provider)
    from codeward.privacy.config_secrets import redact_url, secret_values
    from codeward.privacy.history_secrets import HistorySecrets, nested_repositories
    from codeward.privacy.history_view import has_view
    from codeward.privacy.learn import WorkspaceSecrets

    scanner = project.scanner
    tiers: list[str] = []

    def staged() -> bool:
        """Commands read only scanned history (bubblewrap's staged object-store view of this repository)."""
        if not tiers:
            tiers.append(project.sandbox_tier())
        return tiers[0] == "bwrap" and has_view(workspace.root)

    history = HistorySecrets(
        workspace.root,
        scanner,
        background=True,
        cache_dir=home / "cache",
        staged=staged,
        on_wait=lambda line: events.emit(Error(line)),
    )
    # nested repositories and submodules get an object-store view under bubblewrap only: under
    # Landlock a command reads their blobs raw (git -C vendor/lib show REV:file), so their secrets
    # are known values too, and a request waits for their whole scan (never staged)
    nested = [
        HistorySecrets(
            r, scanner, background=True, cache_dir=home / "cache", on_wait=lambda line: events.emit(Error(line))
        )
        for r in nested_repositories(workspace)
    ]
    redactor = Redactor(
        scanner,
        known_values=known_secrets,
        learner=WorkspaceSecrets(workspace.root, scanner, background=True, cache_dir=home / "cache", watch=True),
        # every blob in .git is readable by a command (git show, cat-file): its secrets are known values
        sources=[history, *nested],
    )
    for v in secret_values(provider.headers, provider.query_params):  # configured keys are keys too
        redactor.known.add(v, "codeward-api-key")
        remember_secret(v)  # and the audit log's scrubber knows them like the API key
    gate = Gate(redactor, host=url.split("/")[2], url=url, on_egress=on_egress)
    client = None
    if need_key:
        client = ModelClient(
            provider,
            key.value,
            on_retry=lambda msg: events.emit(Error(f"Reconnecting... {msg}")),
            request_timeout_s=config.request_timeout_ms / 1000,
        )
    tier = project.sandbox_tier()
    ctx = ToolContext(project=project, approver=approver, events=events, gate=gate, ids=ItemIds())
    pre = build_preamble(project, sandbox=tier)
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
        context=context_tracker(config, provider, probe=client is not None),
        reasoning_effort=config.model_reasoning_effort,
        reasoning_summary=config.model_reasoning_summary,
        cache_key=sid,
    )
    session = Session(
        session_id=sid,
        events=events,
        gate=gate,
        agent=agent,
        ctx=ctx,
        ledger=ledger,
        sandbox_tier=tier,
        key_source=key.source,
        notices=[*config.notices, *pre.notices, *window_notices(agent)],
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
        SessionStarted(
            session_id=sid,
            run_id=run_id,
            resumed=resume is not None,
            version=__version__,
            cwd=str(workspace.cwd),
            workspace=str(workspace.root),
            provider=provider.id,
            endpoint=redact_url(url),
            model=config.model,
            approval_mode=project.mode,
            sandbox=tier,
            network=project.network,
            key_source=key.source.split(":", 1)[0],
        )
    )
    return session
