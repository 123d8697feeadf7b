"""A real repository whose history holds secrets the working tree no longer does.

Commits, oldest first: ``init`` (README); ``add config`` (``.env`` force-added with two secrets and
a non-secret line, ``config.py`` with a GitHub token); ``notes``; ``secrets out`` (``.env`` untracked,
the token replaced by an environment lookup). The ``.env`` left on disk holds *rotated* values, so
the old ones exist only in ``.git``: ``HEAD~1`` still has both files as they were.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
LETTERS = "riverbankmoon"
TOKEN = "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4"
DANGLING = "ghp_Dg9Lk3Mn7Bv2Cx5Zq8Wr4Ty6Ui1Op0As3Hj7"
"""Only in a blob no commit holds (staged once, then unstaged): ``git fsck`` still lists it."""
PLANTED = (AWS, LETTERS, TOKEN, DANGLING)
PRIVATE_NOTE = "CUSTOMER_NOTE=acme-renewal-discount-forty-percent"
"""Not a secret to any rule: only the attributes keep it out of an honest ``git log -p``."""
ORDINARY = [f"ordinary-line-{i}: nothing secret about line {i}" for i in range(12)]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env).stdout


def leaky_history(repo: Path) -> Path:
    """Turn ``repo`` (the ``git_repo`` fixture: one commit) into the history described above."""
    (repo / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={AWS}\nDB_PASSWORD={LETTERS}\n{PRIVATE_NOTE}\n")
    config = ["import os", "", *ORDINARY[:6], f'GITHUB_TOKEN = "{TOKEN}"', *ORDINARY[6:]]
    (repo / "config.py").write_text("\n".join(config) + "\n")
    git(repo, "add", "-f", ".env", "config.py")
    git(repo, "commit", "-q", "-m", "add config")
    (repo / "notes.txt").write_text("notes: an ordinary file\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "notes")
    git(repo, "rm", "-q", "--cached", ".env")
    config[8] = 'GITHUB_TOKEN = os.environ["GITHUB_TOKEN"]'
    (repo / "config.py").write_text("\n".join(config) + "\n")
    git(repo, "add", "config.py")
    git(repo, "commit", "-q", "-m", "secrets out")
    (repo / "draft.py").write_text(f'TOKEN = "{DANGLING}"\n')
    git(repo, "add", "draft.py")
    git(repo, "rm", "-q", "--cached", "draft.py")
    (repo / "draft.py").unlink()
    (repo / ".env").write_text("AWS_SECRET_ACCESS_KEY=Rotated0Rotated1Rotated2Rotated3Rotated4x\n")
    return repo
