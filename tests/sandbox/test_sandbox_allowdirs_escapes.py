"""allow_directories binds commands: escape attempts with real commands, each judged from the host.

The project's AGENTS.md says ``allow_directories: - src/``. Every tier the machine has (bwrap,
Landlock) must keep the rest of the workspace unchanged; the "none" run is the control that shows
each attempt would have worked unconfined (xfail, strict).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, content, git

pytestmark = pytest.mark.sandbox

POLICY = "# rules\n\nallow_directories:\n- src/\n\ndisallow_directories:\n- data/customers/\n"


@pytest.fixture
def narrowed(project: Project) -> Project:
    """The escape suite's project, with src/ as the only allowed directory."""
    root = project.root
    (root / "AGENTS.md").write_text(POLICY)
    (root / "lib").mkdir()
    (root / "lib" / "util.py").write_text("original\n")
    (root / "README.md").write_text("original\n")
    return project


def unchanged(root: Path) -> None:
    """The files outside src/ that every attempt aims at are as the fixture left them."""
    assert (root / "README.md").read_text() == "original\n"
    assert (root / "lib" / "util.py").read_text() == "original\n"
    assert sorted(p.name for p in (root / "lib").iterdir()) == ["util.py"]


def test_write_at_root_and_in_a_sibling(sandbox: Any, narrowed: Project) -> None:
    root = narrowed.root
    r = narrowed.run(
        sandbox,
        "echo pwned > other.txt; echo pwned >> README.md; echo pwned > lib/util.py; touch lib/new.py; "
        "rm -f lib/util.py; truncate -s 0 README.md; cp src/main.py lib/copy.py",
    )
    assert not (root / "other.txt").exists()
    unchanged(root)
    assert r.exit_code != 0


def test_new_top_level_dir_and_file(sandbox: Any, narrowed: Project) -> None:
    root = narrowed.root
    narrowed.run(sandbox, "mkdir newtop && echo x > newtop/f; mkdir -p src2/a; echo x > .hidden; mkfifo fifo")
    for name in ("newtop", "src2", ".hidden", "fifo"):
        assert not (root / name).exists(), name


def test_rename_out_of_the_allowed_dir(sandbox: Any, narrowed: Project) -> None:
    root = narrowed.root
    narrowed.run(sandbox, "mv src/main.py moved.py; mv src/main.py lib/; mv src src2; mv src lib/src; rmdir src")
    assert content(root / "src" / "main.py") == b"print('hello')\n"
    assert not (root / "moved.py").exists() and not (root / "src2").exists()
    unchanged(root)


def test_symlink_and_hardlink_tricks(sandbox: Any, narrowed: Project) -> None:
    root = narrowed.root
    narrowed.run(
        sandbox,
        "ln -s ../README.md src/readme && echo pwned > src/readme; "
        "ln -s .. src/up && echo pwned > src/up/other.txt; echo pwned > src/up/lib/util.py; "
        "ln -s ../lib src/lib && touch src/lib/new.py; "
        "ln lib/util.py src/hl && echo pwned >> src/hl; "
        f"echo pwned > /proc/self/root{root}/README.md; cd src && echo pwned > ../other.txt; "
        "cd .. && python3 -c \"import os; os.rename('src/main.py', 'other.txt')\"",
    )
    assert not (root / "other.txt").exists()
    unchanged(root)


def test_cwd_outside_the_allowed_dir_can_read_but_only_write_in_it(sandbox: Any, narrowed: Project) -> None:
    root = narrowed.root
    r = narrowed.run(sandbox, "cat util.py; echo from-lib > ../src/from-lib.txt; echo x > here.txt", cwd=root / "lib")
    assert "original" in r.output
    assert (root / "src" / "from-lib.txt").read_text() == "from-lib\n"
    assert not (root / "lib" / "here.txt").exists()


def test_writes_inside_the_allowed_dir_and_tmp_work(any_tier: Any, narrowed: Project) -> None:
    root = narrowed.root
    r = narrowed.run(
        any_tier,
        "set -e; echo ok > src/ok.txt; mkdir -p src/pkg/deep; echo y > src/pkg/deep/f.py; "
        'mv src/ok.txt src/pkg/ok.txt; rm src/main.py; echo t > "$TMPDIR/scratch"; cat "$TMPDIR/scratch"',
    )
    assert r.exit_code == 0, r.output
    assert r.output == "t\n"
    assert (root / "src" / "pkg" / "ok.txt").read_text() == "ok\n"
    assert (root / "src" / "pkg" / "deep" / "f.py").read_text() == "y\n"
    assert not (root / "src" / "main.py").exists()


def test_protected_paths_inside_the_allowed_dir_stay_read_only(sandbox: Any, narrowed: Project) -> None:
    root = narrowed.root
    (root / "src" / "AGENTS.md").write_text("src rules\n")
    nested = root / "src" / "vendored"
    nested.mkdir()
    git(nested, "init", "-q")
    config = (nested / ".git" / "config").read_bytes()
    narrowed.run(
        sandbox,
        "echo 'allow_commands:' >> src/AGENTS.md; echo '!*.pem' > src/.codexignore; "
        "printf '#!/bin/sh\\ntouch /tmp/owned\\n' > src/vendored/.git/hooks/pre-commit; "
        "echo '[core] fsmonitor = x' >> src/vendored/.git/config; mkdir -p src/.codeward",
    )
    assert (root / "src" / "AGENTS.md").read_text() == "src rules\n"
    assert not (root / "src" / ".codexignore").exists()
    assert not (nested / ".git" / "hooks" / "pre-commit").exists()
    assert (nested / ".git" / "config").read_bytes() == config
    assert not (root / "src" / ".codeward").exists()


def test_hidden_files_inside_the_allowed_dir_stay_hidden(sandbox: Any, narrowed: Project) -> None:
    marker = "CWMARK-src-" + os.urandom(6).hex()
    conf = narrowed.root / "src" / "conf"
    conf.mkdir()
    (conf / ".env").write_text(marker + "\n")
    r = narrowed.run(sandbox, "cat src/conf/.env; grep -r CWMARK-src src; echo x > src/conf/.env")
    assert marker not in r.output
    assert (conf / ".env").read_text() == marker + "\n"


def test_both_owners_user_src_repo_src_api(sandbox: Any, project: Project, cw_home: Path) -> None:
    """Your list says src/, the repository's says src/api/: only src/api/ is writable."""
    root = project.root
    (root / "src" / "api").mkdir()
    (root / "AGENTS.md").write_text("# rules\n\nallow_directories:\n- src/api/\n")
    (cw_home / "config.toml").write_text('[policy]\nallow_directories = ["src/"]\n')
    spec = project.spec()
    assert spec.workspace_writable == (root / "src" / "api",)
    sandbox.run(["bash", "-c", "echo ok > src/api/ok.txt; echo no > src/top.txt; echo no > top.txt"], spec)
    assert (root / "src" / "api" / "ok.txt").read_text() == "ok\n"
    assert not (root / "src" / "top.txt").exists()
    assert not (root / "top.txt").exists()


def test_missing_allowed_dir_cannot_be_created(sandbox: Any, project: Project) -> None:
    root = project.root
    (root / "AGENTS.md").write_text("# rules\n\nallow_directories:\n- gen/\n")
    r = project.run(sandbox, "mkdir gen && echo x > gen/out.txt")
    assert not (root / "gen").exists()
    assert r.note is not None and "gen/ does not exist (create it with a patch first)" in r.note


def test_note_for_a_write_outside(confined: Any, narrowed: Project) -> None:
    r = narrowed.run(confined, "echo no > other.txt")
    assert r.exit_code == 1
    assert r.note == (
        "sandbox: only src/ may be modified (allow_directories, AGENTS.md:4); other paths are read-only; "
        "the temp dir ($TMPDIR) stays writable"
    )


def test_codeward_sandbox_command_uses_it(confined: Any, narrowed: Project) -> None:
    """``codeward sandbox`` builds the same spec: the write outside fails and the note is on stderr."""
    tier = confined.tier
    root = narrowed.root
    script = "echo ok > src/cli.txt; echo no > cli.txt"
    p = subprocess.run(
        [sys.executable, "-m", "codeward", "-c", f"sandbox.tier={tier}", "sandbox", "--", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1
    assert (root / "src" / "cli.txt").read_text() == "ok\n"
    assert not (root / "cli.txt").exists()
    assert "codeward: sandbox: only src/ may be modified (allow_directories, AGENTS.md:4)" in p.stderr
