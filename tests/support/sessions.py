"""A session built the way ``exec`` builds one, with no model and no terminal, for tool-level tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeward.agent.session import Session, build_session
from codeward.config.load import ConfigOverrides
from codeward.events import EventBus
from codeward.tools.asking import NoTerminalApprover


def offline_session(
    repo: Path, mode: str = "full-auto", *, events: EventBus | None = None, approver: Any = None
) -> Session:
    """``build_session`` in ``repo`` under ``mode``: no key, nothing saved, "ask" declined unless ``approver``."""
    return build_session(
        repo,
        ConfigOverrides(approval_mode=mode),
        events=events or EventBus(),
        approver=approver or NoTerminalApprover(),
        need_key=False,
        persist=False,
    )
