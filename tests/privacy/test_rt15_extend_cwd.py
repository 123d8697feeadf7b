"""Red team rt15: an ``[extend] path`` of the user's rules file is resolved against the working
directory first (``gitleaks_config._resolve_extend``, "as gitleaks does"), and codeward's working
directory is the workspace. A command writes a file of that name in the workspace: from the next
``codeward sandbox`` (or session) on, the user's team rules are replaced by the command's file and
the secrets only they recognise reach commands raw."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.cli import write_config
from tests.support.cw_subprocess import run_cw

from codeward.errors import SandboxUnavailable

pytestmark = pytest.mark.sandbox

RULE = """
[[rules]]
id = "team-format"
description = "the team's token format"
regex = '''(RT15TOK-[0-9a-f]{24})'''
keywords = ["rt15tok"]
"""
TOKEN = "RT15TOK-0123456789abcdef01234567"


@pytest.mark.parametrize("plant", [True, False], ids=["planted", "control"])
def test_a_workspace_file_replaces_the_team_rules_the_user_extends(git_repo: Path, cw_home: Path, plant: bool) -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox("bwrap")
    except SandboxUnavailable as e:
        pytest.skip(f"bwrap cannot be enforced here: {e}")
    write_config(cw_home, "http://127.0.0.1:9/v1", "chat", extra='[sandbox]\ntier = "bwrap"\nkeep_warm_s = 0\n')
    (cw_home / "team.toml").write_text('title = "team"\n' + RULE)
    (cw_home / "mine.toml").write_text('[extend]\npath = "team.toml"\n')  # beside it, as the user means
    with (cw_home / "config.toml").open("a") as f:
        f.write(f'\n[privacy]\nrules = ["{cw_home / "mine.toml"}"]\n')
    (git_repo / "conf.txt").write_text(f'token = "{TOKEN}"\n')
    first = run_cw("sandbox", "--", "cat conf.txt", cwd=git_repo)
    assert TOKEN not in first.stdout and "team-format" in first.stdout, first.stdout + first.stderr
    if plant:
        made = run_cw("sandbox", "--", "printf 'title = \"mine\"\\n' > team.toml && echo planted", cwd=git_repo)
        assert "planted" in made.stdout, made.stdout + made.stderr
    later = run_cw("sandbox", "--", "cat conf.txt", cwd=git_repo)
    assert TOKEN not in later.stdout, "a file the command wrote in the workspace replaced the user's team rules"
