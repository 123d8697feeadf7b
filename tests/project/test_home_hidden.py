"""codeward's own home is hidden from every tool and command, also when the workspace contains it.

The home holds other projects' transcripts, the audit log and possibly ``auth.json``; it ends up
inside a workspace when the user runs with ``--workspace ~`` or sets ``$CODEWARD_HOME`` inside a
repository. Each test plants a marker in the home and checks it from outside: the tool's result,
the command's output. The control (the same directory when it is *not* the home) shows the marker
is reachable without the protection, so the tests can fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from codeward.agent.session import build_session
from codeward.config.load import ConfigOverrides
from codeward.errors import SandboxUnavailable
from codeward.events import EventBus, ListSink
from codeward.project import open_project
from codeward.providers.types import ToolCall
from codeward.tools.asking import Answer

MARKER = "transcript-of-another-project-7731-wombat"


class _Yes:
    def approve_command(self, request: object) -> Answer:
        return Answer(True)

    def approve_edit(self, request: object) -> Answer:
        return Answer(True)


def _tools(root: Path) -> Any:
    bus = EventBus()
    bus.add(ListSink())
    session = build_session(
        root, ConfigOverrides(approval_mode="full-auto"), events=bus, approver=_Yes(), need_key=False, persist=False
    )

    def call(name: str, **args: object) -> str:
        return session.agent.tools.dispatch(ToolCall("c1", name, json.dumps(args)), session.ctx).text

    return call


@pytest.fixture
def repo_with_home(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose ``cwhome/`` is, for the tests that set it so, the codeward home."""
    home = git_repo / "cwhome"
    (home / "sessions").mkdir(parents=True)
    (home / "sessions" / "other.jsonl").write_text(f'{{"text": "{MARKER}"}}\n')
    (home / "config.toml").write_text('approval_mode = "suggest"\n')
    (home / "auth-blob.json").write_text("{}\n")  # a name no command below spells out
    os.symlink("cwhome", git_repo / "shortcut")  # a link inside the workspace that leads into the home
    return git_repo


@pytest.fixture
def as_home(repo_with_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEWARD_HOME", str(repo_with_home / "cwhome"))
    return repo_with_home


def test_read_tools_and_patches_never_reach_the_home(as_home: Path) -> None:
    call = _tools(as_home)
    out = call("read_file", path="cwhome/sessions/other.jsonl")
    assert MARKER not in out and "codeward's own home" in out
    out = call("read_file", path="shortcut/sessions/other.jsonl")  # through the symlink
    assert MARKER not in out and "codeward's own home" in out
    listing = call("list_dir", path=".", depth=3)
    assert "cwhome" not in listing and "other.jsonl" not in listing and "hidden by ignore rules" in listing
    assert "codeward's own home" in call("list_dir", path="cwhome")
    found = call("grep", pattern="wombat")
    assert MARKER not in found and "other.jsonl" not in found
    patch = "*** Begin Patch\n*** Add File: cwhome/config.toml.new\n+approval_mode = 'full-auto'\n*** End Patch\n"
    out = call("apply_patch", input=patch)
    assert "codeward's own home" in out and not (as_home / "cwhome" / "config.toml.new").exists()


def test_control_the_same_directory_is_readable_when_it_is_not_the_home(repo_with_home: Path) -> None:
    call = _tools(repo_with_home)
    assert MARKER in call("read_file", path="cwhome/sessions/other.jsonl")
    assert "other.jsonl" in call("grep", pattern="wombat")


def test_no_ignore_file_can_negate_it(as_home: Path) -> None:
    (as_home / "cwhome" / "ignore").write_text("!cwhome/\n!/cwhome\n!cwhome/**\n")  # the user's own global file
    (as_home / ".codewardignore").write_text("!cwhome/\n")
    project = open_project(as_home)
    rule = project.ignore.match("cwhome/sessions/other.jsonl")
    assert rule is not None and rule.source == "codeward home"
    assert (as_home / "cwhome") in project.ignore.masked_paths()


def test_a_home_name_with_wildcards_hides_only_itself(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odd = git_repo / "home [x]*"
    odd.mkdir()
    (git_repo / "home x").mkdir()
    (git_repo / "home x" / "f.txt").write_text("fine\n")
    monkeypatch.setenv("CODEWARD_HOME", str(odd))
    project = open_project(git_repo)
    assert project.ignore.match("home [x]*/f") is not None
    assert project.ignore.match("home x/f.txt") is None


def test_workspace_home_with_the_explicit_flag_hides_the_codeward_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--workspace ~`` with the default home ``~/.codeward``: the home is hidden from the tools."""
    home = Path(os.environ["HOME"]).resolve()
    cw = home / ".codeward"
    (cw / "sessions").mkdir(parents=True)
    (cw / "sessions" / "s.jsonl").write_text(MARKER + "\n")
    (home / "notes.txt").write_text("my notes\n")
    monkeypatch.delenv("CODEWARD_HOME")
    project = open_project(home, ConfigOverrides(workspace_named=True, workspace_explicit=True))
    assert project.workspace.root == home
    assert project.ignore.match(".codeward/sessions/s.jsonl") is not None
    assert project.ignore.match("notes.txt") is None


def _tier(name: str) -> Any:
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox(name, allow_unsandboxed=name == "none")
    except SandboxUnavailable as e:
        pytest.skip(f"{name} cannot be enforced here: {e}")


@pytest.mark.parametrize(
    "tier",
    [
        "bwrap",
        "landlock",
        pytest.param(
            "none",
            marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: no sandbox shows the home"),
        ),
    ],
)
def test_commands_never_see_the_home_inside_the_workspace(as_home: Path, tier: str) -> None:
    from dataclasses import replace

    sandbox = _tier(tier)
    spec = replace(open_project(as_home).sandbox_spec(), timeout_s=30.0)
    script = (
        "cat cwhome/sessions/other.jsonl shortcut/sessions/other.jsonl 2>&1; "
        "grep -r wombat . 2>&1; ls -la cwhome 2>&1; cp -r cwhome /tmp/copy 2>&1; cat /tmp/copy/sessions/* 2>&1; "
        "mv cwhome moved 2>&1; cat moved/sessions/other.jsonl 2>&1; true"
    )
    result = sandbox.run(["bash", "-c", script], spec)
    assert MARKER not in result.output
    assert "auth-blob" not in result.output  # not even listed
    assert (as_home / "cwhome" / "sessions" / "other.jsonl").read_text() == f'{{"text": "{MARKER}"}}\n'


_TIERS = [
    "bwrap",
    "landlock",
    pytest.param(
        "none",
        marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: with no sandbox the attack works"),
    ),
]


@pytest.mark.parametrize("tier", _TIERS)
def test_a_command_cannot_create_the_home_it_is_judged_by(tmp_path: Path, tier: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``$CODEWARD_HOME`` set inside the repository but not created yet: a command that makes it with
    an ``ignore`` of its own (``!.env``) would decide what the next run hides. The home exists (0700)
    before the command runs, so it is hidden like any home; the command's write goes nowhere.
    (A new repository with no commit yet: nothing else of the run writes to the home first.)"""
    import subprocess
    from dataclasses import replace

    sandbox = _tier(tier)
    git_repo = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", str(git_repo)], check=True)
    home = git_repo / ".cwhome"
    monkeypatch.setenv("CODEWARD_HOME", str(home))
    (git_repo / ".env").write_text(f"TOKEN={MARKER}\n")
    spec = replace(open_project(git_repo).sandbox_spec(), timeout_s=30.0)
    assert home.is_dir()  # before any command
    script = "mkdir -p .cwhome 2>&1; printf '!.env\\n' > .cwhome/ignore 2>&1; cat .cwhome/cache/* 2>&1; true"
    sandbox.run(["bash", "-c", script], spec)
    assert not (home / "ignore").exists()
    project = open_project(git_repo)
    assert project.ignore.match(".env") is not None
    assert MARKER not in sandbox.run(["bash", "-c", "cat .env 2>&1; true"], project.sandbox_spec()).output


@pytest.fixture(params=["home", "home/sessions"])
def home_mounted(request: pytest.FixtureRequest, repo_with_home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The codeward home (outside the workspace), or only its ``sessions/``, bind-mounted into it at
    ``mnt/``; yields the workspace and the transcript's path there."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    outside = repo_with_home.parent / "cwhome-real"
    (repo_with_home / "cwhome").rename(outside)  # the home lives outside; a mount shows it inside
    monkeypatch.setenv("CODEWARD_HOME", str(outside))
    mnt = repo_with_home / "mnt"
    mnt.mkdir()
    whole = request.param == "home"
    subprocess.run(["mount", "--bind", str(outside if whole else outside / "sessions"), str(mnt)], check=True)
    try:
        yield repo_with_home, "mnt/sessions/other.jsonl" if whole else "mnt/other.jsonl"
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_the_home_mounted_into_the_workspace_is_hidden_from_the_tools(home_mounted: tuple[Path, str]) -> None:
    root, transcript = home_mounted
    call = _tools(root)
    out = call("read_file", path=transcript)
    assert MARKER not in out and "codeward's own home" in out
    assert MARKER not in call("grep", pattern="wombat")
    assert "other.jsonl" not in call("list_dir", path=".", depth=3)


@pytest.mark.parametrize("tier", _TIERS)
def test_the_home_mounted_into_the_workspace_is_hidden_from_commands(home_mounted: tuple[Path, str], tier: str) -> None:
    """Found by identity (device and inode), not by name: the transcripts, the index key and the saved
    index under ``mnt/`` are out of a command's sight and reach, from the first command on."""
    from dataclasses import replace

    root, transcript = home_mounted
    sandbox = _tier(tier)
    outside = root.parent / "cwhome-real"
    spec = replace(open_project(root).sandbox_spec(), timeout_s=30.0)
    assert root / "mnt" in spec.masked
    key = (outside / "cache" / "view-index.key").read_bytes()
    script = f"cat {transcript} 2>&1; od -An -tx1 mnt/cache/view-index.key 2>&1; echo x > mnt/planted 2>&1; true"
    result = sandbox.run(["bash", "-c", script], spec)
    assert MARKER not in result.output
    assert " ".join(f"{b:02x}" for b in key[:8]) not in result.output
    assert not (outside / "planted").exists() and not (outside / "sessions" / "planted").exists()


def test_a_mount_point_with_a_space_or_backslash_in_its_name_is_read_back(tmp_path: Path) -> None:
    """The kernel escapes those characters in mountinfo (``\\040``); unescaped, such a mount of the home
    would never match."""
    import subprocess

    from codeward.home import home_mounts, mount_points

    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    home = tmp_path / "cw"
    home.mkdir()
    ws = tmp_path / "ws"
    odd = ws / "a b\\c\td"
    odd.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(home), str(odd)], check=True)
    try:
        assert odd in mount_points()
        assert home_mounts(ws, home) == [odd]
        other = tmp_path / "other"
        other.mkdir()
        assert home_mounts(ws, other) == []  # control: a directory that is not mounted there
    finally:
        subprocess.run(["umount", str(odd)], check=False)
