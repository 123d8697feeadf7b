"""Codeward started inside a nested repository keeps the enclosing project's ignore rules for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codeward.project import open_project


@pytest.fixture
def nested(git_repo: Path) -> Path:
    lib = git_repo / "vendor" / "lib"
    lib.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(lib)], check=True)
    (lib / "keys.txt").write_text("MARKER_INNER_KEY\n")
    (lib / "code.py").write_text("x = 1\n")
    (git_repo / ".codexignore").write_text("vendor/lib/keys.txt\n")
    (git_repo / "vendor" / ".codewardignore").write_text("lib/*.bak\n")
    (lib / "old.bak").write_text("MARKER_BAK\n")
    return lib


def test_the_enclosing_rules_hide_files_in_the_nested_repo(nested: Path, git_repo: Path) -> None:
    outer = open_project(git_repo)
    assert outer.hidden(nested / "keys.txt")  # the control: from the enclosing project it is hidden
    inner = open_project(nested)
    assert inner.workspace.root == nested.resolve()
    assert inner.hidden(nested / "keys.txt") and inner.hidden(nested / "old.bak")
    assert not inner.hidden(nested / "code.py")
    rule = inner.ignore.match_path(nested / "keys.txt")
    assert rule is not None and rule.source.endswith(".codexignore")
    masked = {p.name for p in inner.sandbox_spec().masked}
    assert {"keys.txt", "old.bak"} <= masked


def test_no_enclosing_repository_reads_nothing_above(tmp_path: Path) -> None:
    top = tmp_path / "loose"
    repo = top / "proj"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (top / ".codexignore").write_text("proj/readme.md\n")
    (repo / "readme.md").write_text("hi\n")
    assert not open_project(repo).hidden(repo / "readme.md")


def test_the_outermost_rules_hold_two_repositories_deep(tmp_path: Path) -> None:
    """outer/.codexignore hides mid/vendor/lib/keys.txt; outer, mid and mid/vendor/lib are all
    repositories. Run in the innermost, the outermost project's rule still hides the file: every
    enclosing repository's rules apply, not only the nearest one's."""
    outer = tmp_path / "outer"
    lib = outer / "mid" / "vendor" / "lib"
    lib.mkdir(parents=True)
    for d in (outer, outer / "mid", lib):
        subprocess.run(["git", "init", "-q", str(d)], check=True)
    (outer / ".codexignore").write_text("mid/vendor/lib/keys.txt\n")
    (outer / "mid" / ".codewardignore").write_text("vendor/lib/*.bak\n")
    (lib / "keys.txt").write_text("MARKER\n")
    (lib / "old.bak").write_text("MARKER\n")
    (lib / "code.py").write_text("x = 1\n")
    inner = open_project(lib)
    assert inner.workspace.root == lib.resolve()
    assert inner.hidden(lib / "keys.txt") and inner.hidden(lib / "old.bak")
    assert not inner.hidden(lib / "code.py")
    rule = inner.ignore.match_path(lib / "keys.txt")
    assert rule is not None and rule.source == str(outer / ".codexignore")
    assert {"keys.txt", "old.bak"} <= {p.name for p in inner.sandbox_spec().masked}
    # the control: with only the nearest enclosing repository (mid) read, the outer rule is lost
    (outer / ".git").rename(outer / "not-git")
    assert not open_project(lib).hidden(lib / "keys.txt")


def test_rules_at_or_above_the_home_are_no_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dotfiles repository at $HOME is not an enclosing project: its ignore file is not read
    (the user's own rules belong in $CODEWARD_HOME/ignore); a project below it still counts."""
    home = tmp_path / "home"
    proj = home / "src" / "proj"
    lib = proj / "lib"
    lib.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for d in (home, proj, lib):
        subprocess.run(["git", "init", "-q", str(d)], check=True)
    (home / ".codexignore").write_text("src/proj/lib/a.txt\n")
    (proj / ".codexignore").write_text("lib/b.txt\n")
    for name in ("a.txt", "b.txt"):
        (lib / name).write_text("x\n")
    inner = open_project(lib)
    assert inner.hidden(lib / "b.txt")
    assert not inner.hidden(lib / "a.txt")


@pytest.fixture
def enclosed(git_repo: Path) -> Path:
    """git_repo holds the repository vendor/lib; its AGENTS.md and config narrow what happens there."""
    lib = git_repo / "vendor" / "lib"
    (lib / "data" / "customers").mkdir(parents=True)
    (lib / "private").mkdir()
    subprocess.run(["git", "init", "-q", str(lib)], check=True)
    (lib / "data" / "customers" / "c.csv").write_text("MARKER_CUSTOMERS\n")
    (lib / "private" / "p.txt").write_text("MARKER_PRIVATE\n")
    (lib / "code.py").write_text("x = 1\n")
    (git_repo / "AGENTS.md").write_text(
        "disallow_directories:\n- vendor/lib/data/\n- docs/\ndisallow_commands:\n- make deploy\n"
    )
    (git_repo / ".codeward").mkdir()
    (git_repo / ".codeward" / "config.toml").write_text(
        '[policy]\ndisallow_directories = ["vendor/*/private"]\n[sandbox]\ntimeout_ms = 5000\n'
    )
    return lib


def test_the_enclosing_policy_narrows_the_nested_repository(enclosed: Path, git_repo: Path) -> None:
    from codeward.policy import decide_command

    lib = enclosed
    inner = open_project(lib)
    assert inner.hidden(lib / "data" / "customers" / "c.csv") and inner.hidden(lib / "private" / "p.txt")
    assert not inner.hidden(lib / "code.py")
    masked = {p.relative_to(lib.resolve()).as_posix() for p in inner.sandbox_spec().masked}
    assert {"data", "private"} <= masked
    sources = {e.source for e in inner.policy.disallow_directories}
    assert str(git_repo / "AGENTS.md") + ":2" in sources
    assert [e.pattern for e in inner.policy.disallow_directories if "AGENTS" in e.source] == ["data"]  # docs/: not here
    assert decide_command("make deploy", inner.mode, inner.policy).decision == "deny"
    assert inner.config.sandbox.timeout_ms == 5000  # the enclosing config's other narrowing holds too
    # the control: without the enclosing repository (no .git above), none of it applies
    (git_repo / ".git").rename(git_repo / "not-git")
    loose = open_project(lib)
    assert not loose.hidden(lib / "data" / "customers" / "c.csv")
    assert loose.config.sandbox.timeout_ms != 5000


def test_the_nested_repository_cannot_loosen_what_encloses_it(enclosed: Path, git_repo: Path) -> None:
    """The nested repository's own files add rules; they cannot undo the enclosing ones."""
    lib = enclosed
    (lib / "AGENTS.md").write_text("allow_directories:\n- data/\n")
    (lib / ".codewardignore").write_text("!data/\n!data/customers/c.csv\n")
    assert open_project(lib).hidden(lib / "data" / "customers" / "c.csv")


def test_an_enclosing_allow_list_is_written_from_the_nested_root(enclosed: Path, git_repo: Path) -> None:
    from codeward.errors import ConfigError
    from codeward.policy import decide_edit

    (git_repo / "AGENTS.md").write_text("allow_directories:\n- vendor/lib/src/\n")
    inner = open_project(enclosed)
    assert [e.pattern for e in inner.policy.allow_directories] == ["src"]
    assert decide_edit("code.py", inner.mode, inner.policy).decision == "deny"
    assert decide_edit("src/a.py", inner.mode, inner.policy).decision != "deny"
    # an allow list with nothing in this repository: the enclosing project lets it modify nothing
    (git_repo / "AGENTS.md").write_text("allow_directories:\n- src/\n")
    with pytest.raises(ConfigError, match=r"AGENTS.md:2: allow_directories \('src/'\) lets the agent modify nothing"):
        open_project(enclosed)


def test_a_nested_allow_list_cannot_widen_the_enclosing_one(enclosed: Path, git_repo: Path) -> None:
    """Principle 2: a repository file only narrows ``allow_*``. The enclosing project allows ``npm test``
    and ``src/``; the nested repository's AGENTS.md lists ``make`` and ``docs/`` as well. Neither is
    added: ``make`` asks in full-auto, a patch to ``docs/`` is denied and commands may not write there.
    Pooled into one list (the old behaviour) both would have been allowed."""
    from codeward.policy import decide_command, decide_edit

    (enclosed / "src").mkdir()
    (enclosed / "docs").mkdir()
    (git_repo / "AGENTS.md").write_text("allow_commands:\n- npm test\nallow_directories:\n- vendor/lib/src/\n")
    (enclosed / "AGENTS.md").write_text("allow_commands:\n- npm test\n- make\nallow_directories:\n- src/\n- docs/\n")
    inner = open_project(enclosed)
    full = "full-auto"
    assert decide_command("npm test", full, inner.policy).decision == "allow"
    made = decide_command("make", full, inner.policy)
    assert made.decision == "ask" and "AGENTS.md" in made.reason
    assert decide_edit("src/a.py", "full-auto", inner.policy).decision == "allow"
    denied = decide_edit("docs/a.md", "full-auto", inner.policy)
    assert denied.decision == "deny" and "outside allow_directories" in denied.reason
    writable = inner.sandbox_spec().workspace_writable
    assert writable is not None and [p.name for p in writable] == ["src"]


def test_a_nested_agents_md_in_the_same_repository_only_narrows(git_repo: Path) -> None:
    """Two AGENTS.md files of one repository: the one nearer the working directory narrows the root's
    allow lists (``src/api/`` of ``src/``), and cannot add a command or directory of its own."""
    from codeward.policy import decide_command, decide_edit

    api = git_repo / "src" / "api"
    api.mkdir(parents=True)
    (git_repo / "tools").mkdir()
    (git_repo / "AGENTS.md").write_text("allow_commands:\n- pytest\nallow_directories:\n- src/\n")
    (git_repo / "src" / "AGENTS.md").write_text(
        "allow_commands:\n- pytest\n- curl\nallow_directories:\n- src/api/\n- tools/\n"
    )
    project = open_project(git_repo / "src")
    assert decide_command("curl example.com", "full-auto", project.policy).decision == "ask"
    assert decide_command("pytest -q", "full-auto", project.policy).decision == "allow"
    assert decide_edit("tools/x.sh", "full-auto", project.policy).decision == "deny"
    assert decide_edit("src/other.py", "full-auto", project.policy).decision == "deny"
    assert decide_edit("src/api/v1.py", "full-auto", project.policy).decision == "allow"
    writable = project.sandbox_spec().workspace_writable
    assert writable is not None and [p.relative_to(git_repo.resolve()).as_posix() for p in writable] == ["src/api"]
