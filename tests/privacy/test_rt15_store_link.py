"""Red team rt15: a hard link put where the learner never walks. The walk skips a git directory's
object stores and index (``tree_walk._is_store``: an ``objects`` or ``lfs`` directory, an ``index``
file, whose parent holds ``HEAD``), for the watch and the full walk alike; a command can make such
a place anywhere in the workspace (``mkdir -p x/.git/objects; touch x/.git/HEAD``) or use the
repository's own ``.git/objects``, and link a file there that the user fills in later: the file is
scanned and shown redacted under its own name, never under the link's. (bubblewrap: .git is
read-only to commands, and a nested repository's store is hidden: neither gets through there.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.privacy.test_rt13_tree_watch import SECRET_LINE, _dispatch, _sent, _tier, leaked
from tests.support.leaks import SHIFT
from tests.support.sessions import offline_session


@pytest.mark.sandbox
@pytest.mark.parametrize("link", [".git/objects/keep", ".git/sharedindex.keep", ".git/lfs/keep"])
def test_a_link_where_the_walk_never_looks_reads_the_users_secret(git_repo: Path, cw_home: Path, link: str) -> None:
    """Landlock (its documented gap: a command writes .git, so that git commit works): the command
    links a file the user will fill in into the repository's object store (or names it as a shared
    index). The learner's walk skips both, so the file is scanned and held out only under its own
    name; the next command read the link raw. Fixed by identity: a secret-holding file with more
    links than names in the walk refuses commands (``privacy.redacted_paths.LinkedOutside``)."""
    _tier(cw_home, "landlock")
    (git_repo / "dev.log").write_text("server started\n")
    s = offline_session(git_repo)
    outputs = [_dispatch(s, "true", 0)]
    outputs.append(_dispatch(s, f"mkdir -p {Path(link).parent} && ln dev.log {link} && echo linked", 1))
    assert "linked" in outputs[-1], outputs[-1]
    _sent(s, outputs)
    with open(git_repo / "dev.log", "a") as f:  # the user's server logs its configuration
        f.write(f"config loaded: {SECRET_LINE}")
    outputs.append(_dispatch(s, f"cat dev.log | {SHIFT}", 2))
    assert str(git_repo / "dev.log") in s.gate.redactor.learner.secret_paths()
    assert leaked(_sent(s, outputs)) == [], outputs
    outputs.append(_dispatch(s, f"cat {link} | {SHIFT}", 3))
    # refused by the file's identity: its link count is more than the names the walk found
    assert "has another name (a hard link)" in outputs[-1], outputs[-1]
    assert leaked(_sent(s, outputs)) == [], outputs[-1][:200]
