"""The terminal approver, with the keyboard replaced by scripted answers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from codeward.tools.asking import Answer, CommandRequest, EditRequest
from codeward.ui.approver import TerminalApprover, answer_for
from codeward.ui.render import Renderer

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_answer_for():
    assert answer_for("y", None, "edit") == Answer(approved=True, decided_by="user")
    assert answer_for("a", "ignored", "edit") == Answer(approved=True, always=True, decided_by="user")
    assert answer_for("n", "", "command") == Answer(
        approved=False, reason="declined: the user did not approve this command", decided_by="user"
    )
    assert answer_for("n", "  use pytest -x  ", "command") == Answer(
        approved=False, reason="declined by the user, who said: use pytest -x", decided_by="user"
    )


def approver(keys: list[str], lines: list[str]) -> tuple[TerminalApprover, io.StringIO, list[str]]:
    out = io.StringIO()
    renderer = Renderer(Console(file=out, force_terminal=True, width=100))
    asked: list[str] = []

    def key(message: str) -> str:
        asked.append(message)
        return keys.pop(0)

    def line(message: str) -> str:
        asked.append(message)
        return lines.pop(0)

    return TerminalApprover(renderer, key=key, line=line), out, asked


def test_command_shows_what_where_and_why():
    a, out, asked = approver(["a"], [])
    answer = a.approve_command(
        CommandRequest("npm test -- --watch=false", Path("/work/app"), "suggest mode asks before running any command")
    )
    assert answer.approved and answer.always
    text = ANSI.sub("", out.getvalue())
    assert "$ npm test -- --watch=false" in text
    assert "in /work/app" in text
    assert "why you are asked: suggest mode asks before running any command" in text
    assert asked == ["Run it? [y]es / [n]o / [a]lways (this session) "]


def test_no_asks_for_a_reason_that_goes_back():
    a, _, asked = approver(["n"], ["the tests are slow, run only unit tests"])
    answer = a.approve_command(CommandRequest("make test", Path("/w"), "asks"))
    assert not answer.approved
    assert answer.reason == "declined by the user, who said: the tests are slow, run only unit tests"
    assert asked[1].strip().startswith("reason for the model")


def test_edit_shows_the_diff_and_marks_it_shown():
    a, out, _ = approver(["y"], [])
    diff = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    answer = a.approve_edit(EditRequest(("app.py",), diff, "suggest mode shows every edit for approval first: app.py"))
    assert answer.approved
    assert a.renderer.diff_shown  # the applied-patch line will not print the diff twice
    text = ANSI.sub("", out.getvalue())
    assert "The model wants to change app.py:" in text and "-x = 1" in text and "+x = 2" in text


def test_declined_edit_is_not_marked_shown():
    a, _, _ = approver(["n"], [""])
    answer = a.approve_edit(EditRequest(("a",), "--- a/a\n+++ b/a\n", ""))
    assert not answer.approved and not a.renderer.diff_shown


def test_ctrl_c_at_the_question_cancels_the_turn():
    out = io.StringIO()

    def key(message: str) -> str:
        raise KeyboardInterrupt

    a = TerminalApprover(Renderer(Console(file=out)), key=key)
    with pytest.raises(KeyboardInterrupt):
        a.approve_command(CommandRequest("ls", Path("/"), "asks"))
