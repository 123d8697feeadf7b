"""The census after a command sees every directory the command could have written.

A command that plants a nested repository (``core.fsmonitor`` runs on the user's next ``git
status``) or an ``AGENTS.md`` must not hide it from the census: not behind a ``chmod`` (as the user,
the command owns what it made: codeward opens it up for the census and puts the mode back), and not
deeper than ``PATH_MAX`` (the census walks by directory descriptor). Judged from the host: what
stayed on disk, with controls that turn each mechanism off.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

from codeward.dirindex import reach

pytestmark = pytest.mark.sandbox

USER = 1001  # cwtest
SYSTEM_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("census_reach_driver.py")
PLANT = (
    "mkdir -p sub/inner && git -C sub/inner init -q && git -C sub/inner config core.fsmonitor 'touch PWNED'"
    " && echo x > sub/AGENTS.md && chmod 311 sub"
)


def _can_switch_user() -> str | None:
    if os.geteuid() != 0:
        return "needs root to switch to another user"
    if shutil.which("setpriv") is None or not os.access(SYSTEM_PYTHON, os.X_OK):
        return "setpriv or the system Python is missing"
    src = Path(__file__).resolve().parents[2] / "src"
    probe = subprocess.run(
        ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", SYSTEM_PYTHON, "-c", "import tomllib"],
        capture_output=True,
        cwd="/",
    )
    if probe.returncode != 0:
        return f"uid {USER} cannot run {SYSTEM_PYTHON} (3.11+)"
    probe = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--clear-groups", "ls", str(src)])
    return None if probe.returncode == 0 else f"{src} is not readable by uid {USER}"


@pytest.fixture
def user_ws() -> Iterator[Path]:
    why = _can_switch_user()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="codeward-reach-", dir="/tmp"))
    try:
        (base / "ws").mkdir()
        (base / "home" / ".codeward").mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(base / "ws")], check=True)
        for p in [base, *base.rglob("*")]:
            os.chown(p, USER, USER, follow_symlinks=False)
        yield base
    finally:
        for p in base.rglob("*"):
            if p.is_dir() and not p.is_symlink():
                os.chmod(p, 0o755)
        shutil.rmtree(base, ignore_errors=True)


def _run_as_user(
    base: Path, tier: str, command: str, *, control: str = "", masked: tuple[str, ...] = ()
) -> dict[str, Any]:
    cfg = {
        "tier": tier,
        "workspace": str(base / "ws"),
        "home": str(base / "home"),
        "command": command,
        "masked": list(masked),
    }
    r = subprocess.run(
        [
            "setpriv",
            f"--reuid={USER}",
            f"--regid={USER}",
            "--clear-groups",
            SYSTEM_PYTHON,
            str(DRIVER),
            json.dumps(cfg | {"control": control}),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(base / "home"), "LANG": "C.UTF-8"},
        cwd=str(base / "ws"),
        timeout=120,
    )
    if r.returncode != 0 and "cannot be enforced" in r.stderr:
        pytest.skip(f"{tier} unavailable for uid {USER}: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    assert out["tier"] == tier
    return out


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_repo_planted_behind_a_chmod_is_moved_aside(tier: str, user_ws: Path) -> None:
    ws = user_ws / "ws"
    out = _run_as_user(user_ws, tier, PLANT)
    sub = ws / "sub"
    assert stat.S_IMODE(sub.lstat().st_mode) == 0o311, "the command's mode is put back"
    assert not (sub / "inner" / ".git").exists()
    assert (sub / "inner" / ".git.codeward-undone-1" / "config").is_file()  # moved, never deleted
    assert not (sub / "AGENTS.md").exists()
    assert "sub/inner/.git" in (out["note"] or ""), out
    # the next command meets a directory the index lists only by opening it up: it still runs
    nxt = _run_as_user(user_ws, tier, "ls sub/inner >/dev/null 2>&1; echo next-ok")
    assert nxt["exit"] == 0 and "next-ok" in nxt["output"], nxt
    assert stat.S_IMODE(sub.lstat().st_mode) == 0o311


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_what_cannot_be_listed_is_moved_aside_whole(tier: str, user_ws: Path) -> None:
    """Without opening up (as if the directory were not ours to open) the census cannot list
    ``sub``: it fails closed, ``sub`` goes aside whole, with a note; nothing is deleted."""
    out = _run_as_user(user_ws, tier, PLANT, control="no-open")
    ws = user_ws / "ws"
    assert not (ws / "sub").exists()
    moved = ws / "sub.codeward-undone-1"
    os.chmod(moved, 0o755)
    assert (moved / "inner" / ".git" / "config").is_file() and (moved / "AGENTS.md").is_file()
    assert "sub (could not be listed after the command: moved to sub.codeward-undone-1)" in (out["note"] or ""), out


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_control_with_neither_the_planted_repo_stays(tier: str, user_ws: Path) -> None:
    """The attack both stop: the census cannot list ``sub``, so nothing is moved aside."""
    _run_as_user(user_ws, tier, PLANT, control="none")
    sub = user_ws / "ws" / "sub"
    os.chmod(sub, 0o755)
    assert "fsmonitor" in (sub / "inner" / ".git" / "config").read_text()
    assert (sub / "AGENTS.md").exists()


# -- Landlock: a held file whose directory the command closed goes back all the same ------------

SECRET = "HELDMARK-customer-list"


@pytest.mark.parametrize("mode", ["300", "500", "000"])
def test_a_held_file_goes_back_into_a_directory_the_command_closed(mode: str, user_ws: Path) -> None:
    ws = user_ws / "ws"
    (ws / "config").mkdir()
    (ws / "config" / ".env").write_text(SECRET)
    for p in (ws / "config", ws / "config" / ".env"):
        os.chown(p, USER, USER)
    out = _run_as_user(user_ws, "landlock", f"cat config/.env; chmod {mode} config", masked=("config/.env",))
    assert SECRET not in out["output"]  # held while the command ran
    assert stat.S_IMODE((ws / "config").lstat().st_mode) == int(mode, 8), "the command's mode is put back"
    os.chmod(ws / "config", 0o755)
    assert (ws / "config" / ".env").read_text() == SECRET
    assert f"config (mode {mode}, set by the command) was opened" in (out["note"] or ""), out


def test_a_held_file_goes_back_when_the_command_closed_the_workspace_itself(user_ws: Path) -> None:
    ws = user_ws / "ws"
    (ws / ".env").write_text(SECRET)
    os.chown(ws / ".env", USER, USER)
    out = _run_as_user(user_ws, "landlock", "chmod 300 .", masked=(".env",))
    assert stat.S_IMODE(ws.lstat().st_mode) == 0o300
    os.chmod(ws, 0o755)
    assert (ws / ".env").read_text() == SECRET
    assert "the workspace (mode 300, set by the command) was opened" in (out["note"] or ""), out


def test_control_without_opening_the_held_file_is_stranded(user_ws: Path) -> None:
    """The failure the opening-up stops: the put-back cannot enter ``config`` and the file stays in
    the holding place, missing from the workspace."""
    ws = user_ws / "ws"
    (ws / "config").mkdir()
    (ws / "config" / ".env").write_text(SECRET)
    for p in (ws / "config", ws / "config" / ".env"):
        os.chown(p, USER, USER)
    out = _run_as_user(user_ws, "landlock", "chmod 300 config", masked=("config/.env",), control="hold-closed")
    os.chmod(ws / "config", 0o755)
    assert not (ws / "config" / ".env").exists()
    assert "left in" in (out["note"] or ""), out


# -- deeper than PATH_MAX (root lists anything; depth is what hides) -------------------------------

LEVELS = 850  # 5 bytes each: about 4.2 KB below the workspace, past PATH_MAX (4096)
# git itself refuses a working directory that long, so the repository is written by hand
DEEP = (
    f"for i in $(seq {LEVELS}); do mkdir dddd && cd dddd || exit 9; done;"
    " mkdir .git && printf '[core]\\n\\tfsmonitor = touch PWNED\\n' > .git/config && echo x > AGENTS.md"
)


def _bottom(root: Path) -> int:
    """A descriptor of the deepest ``dddd`` below ``root``, reached one component at a time."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(LEVELS):
        nfd = os.open("dddd", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


def _names(fd: int) -> set[str]:
    with os.scandir(fd) as it:
        return {e.name for e in it}


def _clean(root: Path) -> None:
    subprocess.run(["rm", "-rf", "dddd"], cwd=root, check=False)
    for p in root.glob("dddd*"):
        subprocess.run(["rm", "-rf", p.name], cwd=root, check=False)


def test_a_repo_planted_deeper_than_path_max_is_moved_aside(confined: Any, project: Project) -> None:
    if os.geteuid() != 0:
        pytest.skip("the root case: as another user depth is checked the same way, but slower to set up")
    try:
        r = project.run(confined, DEEP)
        assert r.exit_code == 0, r.output
        fd = _bottom(project.root)
        try:
            assert _names(fd) == {".git.codeward-undone-1", "AGENTS.md.codeward-undone-1"}
        finally:
            os.close(fd)
        assert ".git (moved to" in (r.note or "")
    finally:
        _clean(project.root)


def test_control_past_path_max_by_path_the_subtree_is_moved_aside_whole(
    confined: Any, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the descriptor walk the census cannot reach the planted repository by name (the old code
    saw nothing there and left it); what it cannot list now fails closed: that subtree goes aside whole."""
    if os.geteuid() != 0:
        pytest.skip("the root case")
    monkeypatch.setattr(reach, "LONG_PATH_BYTES", 1 << 30)  # every path named at once: PATH_MAX applies
    try:
        r = project.run(confined, DEEP)
        assert "could not be listed after the command" in (r.note or ""), r.note
        # the first directory past PATH_MAX went aside whole; the repository is in it, as planted
        fd = os.open(project.root, os.O_RDONLY | os.O_DIRECTORY)
        renamed = 0
        try:
            for _ in range(LEVELS):
                name = "dddd" if "dddd" in _names(fd) else "dddd.codeward-undone-1"
                renamed += name != "dddd"
                nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nfd
            assert renamed == 1
            assert _names(fd) == {".git", "AGENTS.md"}
        finally:
            os.close(fd)
    finally:
        _clean(project.root)


# -- a directory codeward cannot list before the command (another user's, mode 0711) ---------------

FOREIGN = "FOREIGNMARK-unscanned"


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_directory_codeward_cannot_list_is_hidden_whole(tier: str, user_ws: Path) -> None:
    """root's ``vendor-cache`` (0711) inside the user's workspace: codeward, running as the user,
    cannot list it, so nothing in it was classified by the ignore rules or scanned for secrets. A
    command that knows a name in it (``.env``) must not read it: hidden whole in both tiers."""
    d = user_ws / "ws" / "vendor-cache"
    d.mkdir()
    (d / ".env").write_text(FOREIGN)
    os.chmod(d, 0o711)  # root's: searchable, not listable, not ours to open up
    out = _run_as_user(user_ws, tier, "cat vendor-cache/.env; echo done")
    assert "done" in out["output"], out
    assert FOREIGN not in out["output"], out
    assert (d / ".env").read_text() == FOREIGN  # left where it was


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: what the index cannot list is not hidden")
def test_control_landlock_without_hiding_unlistable_directories(user_ws: Path) -> None:
    d = user_ws / "ws" / "vendor-cache"
    d.mkdir()
    (d / ".env").write_text(FOREIGN)
    os.chmod(d, 0o711)
    out = _run_as_user(user_ws, "landlock", "cat vendor-cache/.env; echo done", control="no-unlistable")
    assert FOREIGN not in out["output"], out
