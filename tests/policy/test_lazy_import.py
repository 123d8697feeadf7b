"""tree-sitter loads only when a command is first analysed, never on import (start-up stays light)."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(out.split())


def test_importing_the_engine_does_not_load_tree_sitter() -> None:
    mods = _modules_after("import codeward.policy\nfrom codeward.policy import Decision, Policy, decide_edit")
    assert "codeward.policy.commands" in mods and "codeward.policy.edits" in mods
    assert not {m for m in mods if m.startswith("tree_sitter")}
    assert "codeward.policy.analysis" not in mods


def test_deciding_an_edit_does_not_load_tree_sitter() -> None:
    mods = _modules_after(
        "from codeward.policy import Policy, decide_edit\nassert decide_edit('a.py', 'full-auto', Policy()).decision"
    )
    assert not {m for m in mods if m.startswith("tree_sitter")}


def test_deciding_a_command_loads_it() -> None:
    mods = _modules_after(
        "from codeward.policy import Policy, decide_command\ndecide_command('ls', 'suggest', Policy())"
    )
    assert "tree_sitter" in mods and "tree_sitter_bash" in mods
