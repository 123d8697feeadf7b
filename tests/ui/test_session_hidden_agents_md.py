"""An AGENTS.md that the ignore rules hide never reaches the model, whatever the user does mid-session.

The real program in a pty against the scripted server: a first turn, ``/mode auto-edit``, a second
turn, ``/new`` and a third turn. Every request the server received is checked for the hidden text
(and, as a control, for the text of an AGENTS.md that is not hidden, which must be sent each time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HIDDEN = "the-hidden-instructions-kumquat-7731"
SHOWN = "the-visible-instructions-persimmon-4410"


def test_hidden_agents_md_is_never_sent_across_mode_and_new(tui: Any, git_repo: Path, model_server: Any) -> None:
    (git_repo / "AGENTS.md").write_text(f"# team notes\n\n{HIDDEN}\n")
    sub = git_repo / "pkg"
    sub.mkdir()
    (sub / "AGENTS.md").write_text(f"# package notes\n\n{SHOWN}\n")
    (git_repo / ".codexignore").write_text("/AGENTS.md\n")
    t = tui(steps=[{"text": "first answer"}, {"text": "second answer"}, {"text": "third answer"}], cwd=sub)
    t.prompt()
    t.line("first task")
    t.expect("first answer")
    t.prompt()
    t.line("/mode auto-edit")
    t.expect(r"approval mode: auto-edit")
    t.prompt()
    t.line("second task")
    t.expect("second answer")
    t.prompt()
    t.line("/new")
    t.expect("context is cleared")
    t.prompt()
    t.line("third task")
    t.expect("third answer")
    t.prompt()
    bodies = [r.body for r in model_server.requests]
    assert len(bodies) == 3
    for body in bodies:
        assert HIDDEN not in body
        assert SHOWN in body  # control: the instructions machinery is live in every request
    assert (
        "<approval_mode>auto-edit</approval_mode>" in bodies[1]
        and "<approval_mode>auto-edit</approval_mode>" in bodies[2]
    )
