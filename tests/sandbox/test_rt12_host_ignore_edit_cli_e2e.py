"""Red team rt12: the user hides a file mid-session by adding a rule to ``.codewardignore``; the
session's later commands read it all the same.

:meth:`codeward.tools.base.ToolContext.reload_ignore` ran only after the agent's own patch (or an
undo) touched an ignore file; an edit by the user on the host between two commands kept the
matcher the session was assembled with, so the sandbox's view never hid the newly ignored file.
Now every tool call first compares the ignore files on disk with those the rules were read from
(:meth:`codeward.tools.base.ToolContext.follow_ignore_edits`). Judged by what reached the model.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config

pytestmark = pytest.mark.sandbox


# bubblewrap only: the Landlock tier puts back a protected file that changed while a command ran (it
# cannot tell the host's edit from the command's; README, Limits), and an edit between two commands
# cannot be timed from here; the check before each tool call is the same code for every tier
@pytest.mark.parametrize("tier", ["bwrap"])
def test_a_rule_the_user_adds_mid_session_applies_to_the_next_command(
    model_server: Any, git_repo: Path, cw_home: Path, tier: str
) -> None:
    if tier == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("no bubblewrap")
    plan = git_repo / "docs" / "plan.txt"
    plan.parent.mkdir()
    marker = f"CWMARK-rt12-{os.urandom(6).hex()}"
    plan.write_text(f"acquisition target: {marker}\n")
    # the user's own ignore file, there before the session (one that appears while a command runs is
    # moved aside as the command's: a command may not add rules)
    (git_repo / ".codewardignore").write_text("*.log\n")
    time.sleep(0.3)

    def hide() -> None:
        deadline = time.monotonic() + 60
        while len(model_server.requests) < 2 and time.monotonic() < deadline:  # the second command runs
            time.sleep(0.02)
        with open(git_repo / ".codewardignore", "a") as f:  # the user: "the model must not see docs/"
            f.write("docs/\n")

    steps = [{"tool": "shell", "args": {"command": c}} for c in ("true", "sleep 3", "cat docs/plan.txt; true")]
    model_server.script([*steps, {"text": "done"}])
    write_config(cw_home, model_server.url, "chat", extra=f'[sandbox]\ntier = "{tier}"')
    t = threading.Thread(target=hide, daemon=True)
    t.start()
    run = codeward("exec", "--json", "-a", "full-auto", "read the plan", cwd=git_repo)
    t.join(5)
    assert run.returncode == 0, run.stderr
    assert (git_repo / ".codewardignore").read_text().endswith("docs/\n")
    sent = "\n".join(r.body for r in model_server.requests)
    assert marker not in sent, "a file the user ignored mid-session reached the model"
