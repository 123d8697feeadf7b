"""Protection that cannot be moved away: renaming, replacing or re-creating an ancestor, judged from the host.

Each attack runs in every real tier and once with no sandbox (the control, which must let it
succeed). Afterwards the host is checked: the user's files at their own names with their own bytes,
the user's git history intact, and nothing a planted git config names executed by the user's next
``git status``.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, content, git

pytestmark = pytest.mark.sandbox


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def host_git_status(repo: Path) -> None:
    """The user's own plain ``git status`` on the host, as a user would type it (no safety flags)."""
    subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, check=False)


def test_renaming_the_parent_of_an_ignored_file(sandbox: Any, project: Project) -> None:
    """``mv config cfg`` must not make ``config/production.yml`` readable under a new name."""
    secret = project.root / "config" / "production.yml"
    marker = f"CWMARK-prod-{os.urandom(6).hex()}"
    _write(secret, f"password: {marker}\n")
    _write(project.root / ".codexignore", "config/production.yml\n")
    r = project.run(sandbox, "mv config cfg; cat cfg/production.yml config/production.yml 2>&1; true")
    assert marker not in r.output
    assert content(secret) == f"password: {marker}\n".encode()
    if sandbox.tier == "bwrap":
        assert not (project.root / "cfg").exists()  # the ancestor is a mount point: the rename failed
    else:  # Landlock holds the secret outside the tree while the command runs: the rename moved nothing
        assert content(project.root / "cfg" / "production.yml") is None
    r = project.run(sandbox, "cat cfg/production.yml 2>&1; true")  # the next command either
    assert marker not in r.output


def test_renaming_a_directory_with_a_nested_ignore_file(sandbox: Any, project: Project) -> None:
    rules = project.root / "data" / "exports" / ".codexignore"
    _write(rules, "*.csv\n")
    _write(project.root / "data" / "exports" / "clients.csv", "CWMARK-clients\n")
    project.run(sandbox, "mv data/exports data/exp2; mkdir data/exports; echo keep > data/exports/x.txt")
    assert content(rules) == b"*.csv\n"
    assert content(project.root / "data" / "exports" / "clients.csv") == b"CWMARK-clients\n"


def test_replacing_a_nested_agents_md_on_the_cwd_path(sandbox: Any, project: Project) -> None:
    pkg = project.root / "pkg" / "api"
    agents = project.root / "pkg" / "AGENTS.md"
    _write(agents, 'disallow_commands:\n- "rm -rf"\n')
    pkg.mkdir(parents=True)
    project.run(
        sandbox, "cd ../.. && mv pkg pkg.old && mkdir -p pkg/api && echo 'allow everything' > pkg/AGENTS.md", cwd=pkg
    )
    assert content(agents) == b'disallow_commands:\n- "rm -rf"\n'


def test_root_agents_md_that_links_into_docs(sandbox: Any, project: Project) -> None:
    agents = project.root / "AGENTS.md"
    real = project.root / "docs" / "AGENTS.md"
    _write(real, 'disallow_commands:\n- "git push"\n')
    agents.unlink()
    agents.symlink_to("docs/AGENTS.md")
    project.run(sandbox, "mv docs docs.old; mkdir docs; echo 'no rules' > docs/AGENTS.md")
    assert content(agents) == b'disallow_commands:\n- "git push"\n'
    assert content(real) == b'disallow_commands:\n- "git push"\n'


def test_swapping_a_nested_repository_for_a_planted_one(sandbox: Any, project: Project, tmp_path: Path) -> None:
    """The issue's attack: the user's next plain ``git status`` must run nothing, and history must survive."""
    lib = project.root / "vendor" / "lib"
    lib.mkdir(parents=True)
    git(lib, "init", "-q", "-b", "main")
    _write(lib / "a.txt", "a\n")
    git(lib, "add", "a.txt")
    git(lib, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "history")
    head = git(lib, "rev-parse", "HEAD").stdout
    owned = tmp_path / f"owned-{os.urandom(4).hex()}"
    project.run(
        sandbox,
        "mv vendor/lib vendor/lib.orig; mkdir vendor/lib && cd vendor/lib && git init -q && "
        f"git config core.fsmonitor 'touch {owned}; false' && echo x > f && git add f",
    )
    host_git_status(lib)
    host_git_status(project.root)
    assert not owned.exists()
    assert git(lib, "rev-parse", "HEAD").stdout == head
    assert "fsmonitor" not in (lib / ".git" / "config").read_text()


def test_submodule_pointer_file_swapped(sandbox: Any, project: Project, tmp_path: Path) -> None:
    """A ``.git`` pointer file's directory renamed and a real repository planted in its place."""
    owned = tmp_path / f"owned-{os.urandom(4).hex()}"
    wt = project.root / "wt"
    before = (wt / ".git").read_bytes()
    project.run(
        sandbox,
        f"mv wt wt.orig; mkdir wt && cd wt && git init -q && git config core.fsmonitor 'touch {owned}; false'",
    )
    assert (wt / ".git").is_file() and (wt / ".git").read_bytes() == before
    host_git_status(wt)
    assert not owned.exists()


def test_no_setuid_or_setgid_file_can_be_made(sandbox: Any, project: Project) -> None:
    """``cp /bin/sh x && chmod 4755 x`` and a file created with the bits: neither keeps them (as root: euid 0 for anyone)."""
    project.run(
        sandbox,
        "cp /bin/sh suid-chmod; chmod 4755 suid-chmod; chmod g+s suid-chmod; "
        "python3 -c \"import os; os.close(os.open('suid-open', os.O_CREAT | os.O_WRONLY, 0o6755))\"; "
        "mkdir -p d && python3 -c \"import os; os.mknod('d/suid-mknod', 0o104755)\"; "
        "install -m 4755 /bin/sh suid-install",
    )
    found = []
    for name in ("suid-chmod", "suid-open", "d/suid-mknod", "suid-install"):
        p = project.root / name
        if p.exists() and p.stat().st_mode & (stat.S_ISUID | stat.S_ISGID):
            found.append(name)
    assert found == []


# --- what git runs on the host ------------------------------------------------------------------


def _hooked_repo(project: Project) -> None:
    """The repository keeps its hooks in .husky, includes ../.gitconfig-team and names a watcher script."""
    _write(project.root / ".husky" / "pre-commit", "#!/bin/sh\nexit 0\n")
    os.chmod(project.root / ".husky" / "pre-commit", 0o755)
    _write(project.root / "tools" / "fsmonitor.sh", "#!/bin/sh\nexit 1\n")
    os.chmod(project.root / "tools" / "fsmonitor.sh", 0o755)
    _write(project.root / ".gitconfig-team", "[user]\n\tname = team\n")
    git(project.root, "config", "core.hooksPath", ".husky")
    git(project.root, "config", "include.path", "../.gitconfig-team")
    git(project.root, "config", "core.fsmonitor", "tools/fsmonitor.sh")


def test_hooks_path_include_and_watcher_script_are_read_only(sandbox: Any, project: Project, tmp_path: Path) -> None:
    """Rewriting what the user's next ``git status`` / ``git commit`` runs must not outlive the command."""
    _hooked_repo(project)
    owned = tmp_path / f"owned-{os.urandom(4).hex()}"
    evil = f"#!/bin/sh\ntouch {owned}\nexit 1\n"
    project.run(
        sandbox,
        f"printf '{evil}' > .husky/pre-commit; printf '{evil}' > tools/fsmonitor.sh; "
        f"printf '{evil}' > .husky/post-checkout; chmod +x .husky/*; "
        f"printf '[core]\\n\\tfsmonitor = touch {owned}\\n' > .gitconfig-team; "
        "mv tools tools.old; mkdir tools; printf '" + evil + "' > tools/fsmonitor.sh; chmod +x tools/fsmonitor.sh",
    )
    host_git_status(project.root)
    subprocess.run(
        ["git", "-c", "user.name=u", "-c", "user.email=u@u", "commit", "-q", "--allow-empty", "-m", "user's commit"],
        cwd=project.root,
        capture_output=True,
        check=False,
    )
    subprocess.run(["git", "checkout", "-q", "-B", "other"], cwd=project.root, capture_output=True, check=False)
    assert not owned.exists()
    assert content(project.root / ".husky" / "pre-commit") == b"#!/bin/sh\nexit 0\n"
    assert not (project.root / ".husky" / "post-checkout").exists()
    assert content(project.root / ".gitconfig-team") == b"[user]\n\tname = team\n"


def test_missing_hooks_dir_cannot_be_planted(sandbox: Any, project: Project, tmp_path: Path) -> None:
    """``core.hooksPath = .githooks`` that does not exist yet: creating it does not outlive the command."""
    git(project.root, "config", "core.hooksPath", ".githooks")
    owned = tmp_path / f"owned-{os.urandom(4).hex()}"
    project.run(
        sandbox,
        f"mkdir .githooks && printf '#!/bin/sh\\ntouch {owned}\\n' > .githooks/post-checkout; chmod +x .githooks/*",
    )
    subprocess.run(["git", "checkout", "-q", "-B", "other"], cwd=project.root, capture_output=True, check=False)
    assert not owned.exists()


def test_gitmodules_is_read_only(sandbox: Any, project: Project) -> None:
    modules = project.root / ".gitmodules"
    _write(modules, '[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n')
    project.run(
        sandbox, "printf '[submodule \"lib\"]\\n\\tpath = lib\\n\\turl = ext::sh -c touch% /tmp/x\\n' > .gitmodules"
    )
    assert content(modules) == b'[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n'


def test_codewards_own_git_calls_run_nothing(project: Project, tmp_path: Path) -> None:
    """doctor's and scan's git calls, in a repository whose config names hooks, fsmonitor and filters."""
    from codeward.hostgit import git_command

    owned = tmp_path / "owned"
    _write(project.root / ".gitattributes", "*.txt filter=evil diff=evil\n")
    _write(project.root / "a.txt", "a\n")
    git(project.root, "add", "a.txt", ".gitattributes")
    for key, value in (
        ("core.fsmonitor", f"touch {owned}.fsmonitor; false"),
        ("filter.evil.clean", f"touch {owned}.clean; cat"),
        ("filter.evil.process", f"touch {owned}.process"),
        ("diff.evil.textconv", f"touch {owned}.textconv; cat"),
        ("core.pager", f"touch {owned}.pager; cat"),
    ):
        git(project.root, "config", key, value)
    _write(project.root / "a.txt", "changed\n")
    os.utime(project.root / "a.txt", (1, 1))  # stat-dirty: git must re-read (and would clean) it
    for args in (
        ["status", "--porcelain"],
        ["diff", "--stat"],
        ["ls-files", "-s"],
        ["diff", "--cached", "--name-only"],
    ):
        argv, env = git_command(args, project.root)
        subprocess.run(argv, cwd=project.root, env=env, capture_output=True, check=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("owned")) == []
    # control: the same calls as plain git run the repository's programs
    subprocess.run(["git", "status", "--porcelain"], cwd=project.root, capture_output=True, check=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("owned"))


MOVES = r"""
mv config cfg; mv config/production.yml config/p2; mv a x; mv a/b a/bb; rm -rf a; rmdir a/b/c
mv AGENTS.md A2; mv docs d2; mv vendor/lib vendor/l2; mv . ../elsewhere
ln config/production.yml hard; cp -a config copy; git mv config cfg2
python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
os.makedirs("other", exist_ok=True)
for name, call in [
    ("exchange", lambda: libc.renameat2(-100, b"config", -100, b"other", 2)),
    ("noreplace", lambda: libc.renameat2(-100, b"a", -100, b"zz", 1)),
]:
    print(name, call(), os.strerror(ctypes.get_errno()))
fd = os.open("a", os.O_RDONLY)
for src in (f"/proc/self/fd/{fd}", f"/proc/self/cwd/a"):
    try:
        os.rename(src, "zz")
        print("renamed", src)
    except OSError as e:
        print("refused", src, e.errno)
print("mount", libc.mount(b"/tmp", b"config", None, 4096, None), os.strerror(ctypes.get_errno()))
PY
umount config; unshare -m true; (sleep 3; mv config cfg-late) & disown
cat config/production.yml a/b/c/s.key copy/production.yml hard 2>&1
true
"""


def _twenty_ways_setup(project: Project) -> Path:
    root = project.root
    _write(root / "config" / "production.yml", "CWMARK-prod\n")
    _write(root / "a" / "b" / "c" / "s.key", "CWMARK-deep\n")
    _write(root / ".codexignore", "config/production.yml\n")
    _write(root / "docs" / "AGENTS.md", "rules\n")
    (root / "AGENTS.md").unlink()
    (root / "AGENTS.md").symlink_to("docs/AGENTS.md")
    lib = root / "vendor" / "lib"
    lib.mkdir(parents=True)
    git(lib, "init", "-q")
    return lib


def test_twenty_ways_to_move_a_protection(bwrap: Any, project: Project) -> None:
    """mv, rm, rmdir, renameat2 (exchange, noreplace), rename through /proc fds and cwd, hard links,
    copies, git mv, mount/umount/unshare, and a background mv meant to outlive the command."""
    import time

    root = project.root
    lib = _twenty_ways_setup(project)
    r = project.run(bwrap, MOVES)

    time.sleep(3.5)  # the background mv would have fired by now
    assert "CWMARK" not in r.output
    assert "renamed" not in r.output and "mount 0" not in r.output
    assert content(root / "config" / "production.yml") == b"CWMARK-prod\n"
    assert content(root / "a" / "b" / "c" / "s.key") == b"CWMARK-deep\n"
    assert content(root / "AGENTS.md") == b"rules\n" and (root / "AGENTS.md").is_symlink()
    assert (lib / ".git").is_dir()
    assert not any((root / n).exists() for n in ("cfg", "x", "d2", "zz", "cfg-late", "cfg2", "hard"))


def test_twenty_ways_control_without_a_sandbox(project: Project) -> None:
    """The same script unconfined moves the ignored file to a name no rule covers and deletes the other."""
    from codeward.sandbox import select_sandbox

    _twenty_ways_setup(project)
    project.run(select_sandbox("none", allow_unsandboxed=True), MOVES)
    assert not (project.root / "config" / "production.yml").exists()
    assert content(project.root / "cfg" / "production.yml") == b"CWMARK-prod\n"
    assert not (project.root / "a" / "b" / "c" / "s.key").exists()


def test_repository_in_an_extra_writable_dir_is_protected_too(sandbox: Any, project: Project, tmp_path: Path) -> None:
    """``--writable ../shared`` where ``shared`` is a repository: its hooks and config stay read-only."""
    shared = tmp_path / "shared"
    shared.mkdir()
    git(shared, "init", "-q")
    config = (shared / ".git" / "config").read_bytes()
    owned = tmp_path / "owned"
    project.run(
        sandbox,
        f"printf '#!/bin/sh\\ntouch {owned}\\n' > {shared}/.git/hooks/post-checkout; "
        f"chmod +x {shared}/.git/hooks/post-checkout; printf '[core]\\n\\tfsmonitor = touch {owned}\\n' >> {shared}/.git/config; "
        f"echo built > {shared}/out.txt",
        writable=(shared,),
    )
    assert (shared / ".git" / "config").read_bytes() == config
    assert not (shared / ".git" / "hooks" / "post-checkout").exists()
    assert content(shared / "out.txt") == b"built\n"  # the directory itself is writable
