"""Fixtures for the interactive-session tests: a real ``codeward`` in a pty against the scripted server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import write_config
from tests.ui.term import Term


@pytest.fixture
def tui(model_server: Any, git_repo: Path, cw_home: Path) -> Iterator[Callable[..., Term]]:
    """Start ``codeward ARGS`` in a pty in ``git_repo`` (or ``cwd``), scripted by ``steps``."""
    started: list[Term] = []

    def start(
        *args: str,
        steps: list[dict[str, Any]] | None = None,
        wire: str = "chat",
        extra: str = "",
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        url: str | None = None,
    ) -> Term:
        if steps is not None:
            model_server.script(steps)
        write_config(cw_home, url or model_server.url, wire, extra)
        term = Term(*args, cwd=cwd or git_repo, env=env)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


def chat_messages(body: str) -> list[dict[str, Any]]:
    """The ``messages`` of a recorded Chat Completions request."""
    return list(json.loads(body)["messages"])


def contents(body: str, role: str) -> list[str]:
    return [str(m.get("content") or "") for m in chat_messages(body) if m["role"] == role]
