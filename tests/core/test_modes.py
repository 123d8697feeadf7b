"""The approval modes' one home: order, predicates, and decline hints that fit the mode in force."""

from __future__ import annotations

import pytest

from codeward.modes import APPROVAL_MODES, commands_without_asking, edits_without_asking, parse_mode, rank
from codeward.tools.asking import CommandRequest, EditRequest, NoTerminalApprover


def test_order_and_predicates() -> None:
    assert [rank(m) for m in APPROVAL_MODES] == [0, 1, 2]
    assert [edits_without_asking(m) for m in APPROVAL_MODES] == [False, True, True]
    assert [commands_without_asking(m) for m in APPROVAL_MODES] == [False, False, True]
    with pytest.raises(ValueError, match="choose one of suggest, auto-edit, full-auto"):
        parse_mode("yolo")


def test_exec_decline_hints_fit_the_mode() -> None:
    from pathlib import Path

    approver = NoTerminalApprover()
    asked = approver.approve_command(CommandRequest("make", Path("/w"), "why", "suggest")).reason or ""
    assert "-a full-auto" in asked
    in_full_auto = approver.approve_command(CommandRequest("make", Path("/w"), "why", "full-auto")).reason or ""
    assert "-a full-auto" not in in_full_auto and "allow_commands" in in_full_auto
    edit = approver.approve_edit(EditRequest(("AGENTS.md",), "", "protected", "auto-edit")).reason or ""
    assert "-a auto-edit" not in edit and "interactive session" in edit
