"""A ``git push --delete`` rule stops every spelling of a remote branch deletion (security review).

``:dst`` refspecs delete as ``--delete`` does, through ``git push`` and ``git send-pack``; the seed
list (no delete rule) still allows them. Each row runs with real git against a local bare remote,
so a denied row is shown to delete the branch and an allowed near miss to leave it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from policy_helpers import make_policy

from codeward.policy import decide_command

DELETE = make_policy(disallow=["git push --delete"])
SEED = make_policy(disallow=["rm -rf", "curl | bash", "git push --force", "chmod 777", "sudo"])
R = "git push --delete"

# (command, decision under the delete rule, its rule, decision under the seed list, deletes)
ROWS: list[tuple[str, str, str | None, str, bool]] = [
    ("git push --delete origin other", "deny", R, "allow", True),
    ("git push -d origin other", "deny", R, "allow", True),
    ("git push origin :other", "deny", R, "allow", True),
    ("git push origin +:other", "deny", R, "deny", True),  # the + is a force, which the seed list stops
    ("git push origin -- :other", "deny", R, "allow", True),
    ("git push origin :refs/heads/other", "deny", R, "allow", True),
    # the run-time remote could be --force: the seed list asks, as for git push
    ('git send-pack "$(git remote get-url origin)" :refs/heads/other', "deny", R, "ask", True),
    ("git push origin main", "allow", None, "allow", False),
    ("git push origin main:other", "allow", None, "allow", False),
    ("git push origin other", "allow", None, "allow", False),
]


def _git(cwd: Path, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=30
    ).stdout


@pytest.mark.parametrize(("command", "decision", "rule", "seed", "deletes"), ROWS)
def test_delete_rule(command: str, decision: str, rule: str | None, seed: str, deletes: bool, tmp_path: Path) -> None:
    d = decide_command(command, "full-auto", DELETE)
    assert (d.decision, d.rule) == (decision, rule), d.reason
    # the seed list has no delete rule: a deletion stays as it was
    assert decide_command(command, "full-auto", SEED).decision == seed
    remote, work = tmp_path / "r.git", tmp_path / "w"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    _git(tmp_path, "clone", "-q", str(remote), str(work))
    _git(work, "commit", "-q", "--allow-empty", "-m", "a")
    _git(work, "push", "-q", "origin", "main", "main:other")
    subprocess.run(["bash", "-c", command], cwd=work, capture_output=True, timeout=30, check=False)
    gone = "refs/heads/other" not in _git(remote, "for-each-ref", "--format=%(refname)")
    assert gone is deletes, command
