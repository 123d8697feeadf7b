"""What git runs on the host cannot be rewritten from the sandbox, however the repository names it.

Found by a red-team run against the first version of the protection, which covered ``.git``, the
``core.hooksPath`` directory and programs named by path as the first word of a setting: husky 9's
user hooks beside ``.husky/_``, a script a hook runs, a hook symlinked into the tree, an interpreter
running a script (``sh scripts/fsmon.sh``, ``python3 clean.py``), ``ssh -F ops/ssh_config``, and a
bare repository inside the workspace. Each attack is judged by what the user's own plain git
command on the host runs afterwards; the "none" tier is the control that shows it would.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sandbox


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=False)


def _commit_setup(repo: Path) -> None:
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")


@pytest.fixture
def owned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file an attack's payload writes on the host when it runs there."""
    return tmp_path_factory.mktemp("evidence") / "owned"


def test_husky_9_user_hook_beside_the_hooks_dir(sandbox: Any, project: Any, owned: Path) -> None:
    r = project.root
    (r / ".husky" / "_").mkdir(parents=True)
    (r / ".husky" / "_" / "pre-commit").write_text('#!/bin/sh\n. "$(dirname "$0")/../pre-commit"\n')
    (r / ".husky" / "_" / "pre-commit").chmod(0o755)
    (r / ".husky" / "pre-commit").write_text("#!/bin/sh\ntrue\n")
    _git(r, "config", "core.hooksPath", ".husky/_")
    project.run(sandbox, f"echo 'touch {owned}' >> .husky/pre-commit")
    _commit_setup(r)
    _git(r, "commit", "-q", "--allow-empty", "-m", "x")
    assert not owned.exists()


def test_a_script_a_hook_runs_and_a_symlinked_hook(sandbox: Any, project: Any, owned: Path) -> None:
    r = project.root
    (r / "scripts").mkdir(exist_ok=True)
    (r / "scripts" / "commit-msg.sh").write_text("#!/bin/sh\ntrue\n")
    (r / "scripts" / "pre-commit.sh").write_text("#!/bin/sh\ntrue\n")
    for f in ("commit-msg.sh", "pre-commit.sh"):
        (r / "scripts" / f).chmod(0o755)
    hooks = r / ".git" / "hooks"
    (hooks / "commit-msg").write_text('#!/bin/sh\nexec ./scripts/commit-msg.sh "$@"\n')
    (hooks / "commit-msg").chmod(0o755)
    (hooks / "pre-commit").unlink(missing_ok=True)
    (hooks / "pre-commit").symlink_to("../../scripts/pre-commit.sh")
    project.run(
        sandbox,
        f"echo 'touch {owned}' >> scripts/commit-msg.sh; echo 'touch {owned}.2' >> scripts/pre-commit.sh",
    )
    _commit_setup(r)
    _git(r, "commit", "-q", "--allow-empty", "-m", "x")
    assert not owned.exists() and not Path(f"{owned}.2").exists()


def test_interpreters_and_option_values_in_git_settings(sandbox: Any, project: Any, owned: Path) -> None:
    r = project.root
    (r / "scripts").mkdir(exist_ok=True)
    (r / "scripts" / "fsmon.sh").write_text("exit 1\n")
    (r / "clean.py").write_text("import sys\nsys.stdout.write(sys.stdin.read())\n")
    (r / ".gitattributes").write_text("*.txt filter=strip\n")
    (r / "a.txt").write_text("a\n")
    _git(r, "config", "core.fsmonitor", "sh scripts/fsmon.sh")
    _git(r, "config", "filter.strip.clean", "python3 clean.py")
    project.run(
        sandbox,
        f"echo 'touch {owned}' >> scripts/fsmon.sh; printf 'import os\\nos.system(\"touch {owned}.2\")\\n' >> clean.py",
    )
    _git(r, "status", "--porcelain")
    _git(r, "add", "a.txt")
    assert not owned.exists() and not Path(f"{owned}.2").exists()


def test_a_bare_repository_inside_the_workspace(sandbox: Any, project: Any, owned: Path) -> None:
    r = project.root
    _git(r, "init", "-q", "--bare", "backup.git")
    _git(r, "remote", "add", "local", "./backup.git")
    project.run(
        sandbox,
        f"printf '#!/bin/sh\\ntouch {owned}\\n' > backup.git/hooks/post-receive; chmod +x backup.git/hooks/post-receive",
    )
    _commit_setup(r)
    _git(r, "commit", "-q", "--allow-empty", "-m", "x")
    _git(r, "push", "-q", "local", "HEAD:main")
    assert not owned.exists()


def test_git_dirs_kept_inside_dot_git(sandbox: Any, project: Any) -> None:
    """A deinitialised submodule's git dir under .git/modules: its hooks and config stay as they were."""
    r = project.root
    inner = r / ".git" / "modules" / "libs" / "sub2"
    _git(r, "init", "-q", "--bare", str(inner))
    config_before = (inner / "config").read_bytes()
    project.run(
        sandbox,
        "mkdir -p .git/modules/libs/sub2/hooks; echo 'touch /tmp/cw-owned' > .git/modules/libs/sub2/hooks/post-checkout; "
        "printf '[core]\\n\\tfsmonitor = touch /tmp/cw-owned\\n' >> .git/modules/libs/sub2/config",
    )
    assert not (inner / "hooks" / "post-checkout").exists()
    assert (inner / "config").read_bytes() == config_before
