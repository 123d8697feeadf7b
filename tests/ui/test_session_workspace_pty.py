"""The interactive session outside a repository: it asks (y/N) before the directory becomes the workspace.

The real program in a pseudo-terminal, the scripted model server on loopback; a "no" (the default)
ends the run with the one-line usage error and nothing reaches the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    d = tmp_path / "plain"
    d.mkdir()
    (d / "notes.txt").write_text("a directory that is no repository\n")
    return d


def test_no_is_the_default_and_ends_the_run(tui, plain, model_server):
    t = tui(steps=[{"text": "never asked"}], cwd=plain)
    t.expect(rf"{plain} is not in a git repository\. Use it as the workspace .*\[y/N\]")
    t.line("")  # Enter alone: the default, no
    t.expect(r"no workspace: .* was not accepted")
    assert t.wait_exit() == 2
    assert model_server.requests == []


def test_yes_opens_the_session_in_that_directory(tui, plain, model_server):
    t = tui(steps=[{"text": "hello"}], cwd=plain)
    t.expect(r"Use it as the workspace .*\[y/N\]")
    t.line("y")
    t.expect(rf"workspace {plain}")
    t.prompt()
    t.ctrl_d()
    assert t.wait_exit() == 0


def test_home_is_refused_without_a_question(tui, plain, model_server):
    import os

    home = Path(os.environ["HOME"])
    t = tui(steps=[{"text": "never asked"}], cwd=home)
    t.expect(rf"{home} is your home directory, never a workspace by default: pass --workspace")
    assert t.wait_exit() == 2
    assert "[y/N]" not in t.text
