"""The runner (real processes), the output cap, the notes for the model, and the tripwire."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from codeward.sandbox import SandboxSpec
from codeward.sandbox.notes import explain
from codeward.sandbox.protect import Tripwire
from codeward.sandbox.runner import OutputCap, run_process, status_code

ENV = {"PATH": "/usr/bin:/bin"}


def test_output_cap_head_and_tail() -> None:
    cap = OutputCap(100)
    cap.feed(b"H" * 30)
    cap.feed(b"m" * 1000)
    cap.feed(b"T" * 30)
    assert cap.truncated and cap.total == 1060
    text = cap.text()
    assert text.startswith("H" * 30 + "m" * 20)
    assert text.endswith("m" * 20 + "T" * 30)
    assert "[... 960 bytes of output omitted ...]" in text
    small = OutputCap(100)
    small.feed("héllo".encode())
    assert not small.truncated and small.text() == "héllo"


def test_output_cap_cuts_inside_characters_without_failing() -> None:
    cap = OutputCap(10)
    cap.feed("é".encode() * 11)  # 22 bytes: the cuts fall inside characters
    assert cap.text() == "éé\ufffd\n[... 12 bytes of output omitted ...]\n\ufffdéé"


def test_streaming_exit_code_and_stdin(tmp_path: Path) -> None:
    chunks: list[str] = []
    r = run_process(
        ["bash", "-c", "echo one; echo two >&2; read x; echo got=${x:-eof}; exit 7"],
        env=ENV,
        cwd=str(tmp_path),
        timeout_s=10,
        output_cap=4096,
        on_output=chunks.append,
    )
    assert r.returncode == 7 and not r.timed_out
    assert "".join(chunks) == r.output == "one\ntwo\ngot=eof\n"


def test_signal_exit_is_128_plus_n(tmp_path: Path) -> None:
    r = run_process(["bash", "-c", "kill -TERM $$"], env=ENV, cwd=str(tmp_path), timeout_s=10, output_cap=4096)
    assert r.returncode == 128 + signal.SIGTERM
    assert status_code(-9) == 137 and status_code(3) == 3


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    r = run_process(
        ["bash", "-c", f"sleep 100 & echo $! > {pidfile}; wait"],
        env=ENV,
        cwd=str(tmp_path),
        timeout_s=0.5,
        output_cap=4096,
    )
    assert r.timed_out and r.returncode is None
    child = int(pidfile.read_text())
    assert _gone(child)


def _gone(pid: int, within_s: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (a killed orphan may stay a zombie until init reaps it)."""
    import time

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_background_writer_does_not_hold_the_run_open(tmp_path: Path) -> None:
    r = run_process(
        [sys.executable, "-c", "import subprocess; subprocess.Popen(['sleep', '30']); print('done')"],
        env=ENV,
        cwd=str(tmp_path),
        timeout_s=20,
        output_cap=4096,
    )
    assert r.returncode == 0 and r.output == "done\n"
    assert r.duration_ms < 10_000


SPEC = SandboxSpec(
    workspace=Path("/w"),
    cwd=Path("/w"),
    masked=(Path("/w/.env"),),
    protected=(Path("/w/.git"), Path("/w/.codeward"), Path("/w/.codewardignore")),
    timeout_s=120,
    max_file_size=1024,
)


@pytest.mark.parametrize(
    ("code", "output", "tier", "expected"),
    [
        (1, "touch: cannot touch '.git/hooks/x': Read-only file system", "bwrap", "sandbox: .git is read-only"),
        (1, "bash: .codewardignore: Permission denied", "landlock", "sandbox: .codewardignore is read-only"),
        (1, "cat: .env: Permission denied", "bwrap", "sandbox: .env is hidden from commands"),
        (6, "curl: (6) Could not resolve host: pypi.org", "bwrap", "sandbox: network is off; ask the user"),
        (1, "OSError: [Errno 97] Address family not supported by protocol", "bwrap", "sandbox: network is off"),
        (153, "", "bwrap", "sandbox: file size limit (1024 bytes) exceeded"),
        (159, "", "bwrap", "sandbox: the process was killed by the seccomp filter"),
        (1, "unshare: unshare failed: Operation not permitted", "bwrap", "sandbox: an operation was blocked"),
        (1, "touch: cannot touch '/usr/x': Read-only file system", "bwrap", "sandbox: only the workspace"),
        (1, "mv: cannot move 'config' to 'cfg': Device or resource busy", "bwrap", "sandbox: directories that hold"),
        (1, "ln: failed to create hard link 'x': Invalid cross-device link", "bwrap", "sandbox: a rename or hard link"),
        (
            1,
            "chmod: changing permissions of 'x': Operation not permitted",
            "bwrap",
            "sandbox: an operation was blocked",
        ),
        (2, "make: *** No rule to make target", "bwrap", None),
        (0, "Permission denied", "bwrap", None),
    ],
)
def test_notes(code: int, output: str, tier: str, expected: str | None) -> None:
    note = explain(exit_code=code, output=output, timed_out=False, spec=SPEC, tier=tier)
    if expected is None:
        assert note is None
    else:
        assert note is not None and note.startswith(expected), note


def test_notes_for_timeout_proxy_and_restores() -> None:
    assert explain(exit_code=None, output="", timed_out=True, spec=SPEC, tier="bwrap") == (
        "sandbox: command timed out after 120 s and was killed with all its processes"
    )
    note = explain(exit_code=56, output="", timed_out=False, spec=SPEC, tier="bwrap", blocked_hosts=["evil.com:443"])
    assert note is not None and note.startswith("sandbox: blocked connection to evil.com:443")
    note = explain(exit_code=0, output="", timed_out=False, spec=SPEC, tier="landlock", restored=["AGENTS.md"])
    assert note == "sandbox: the command changed protected paths (AGENTS.md); codeward undid those changes"


def test_tripwire_restores_everything(tmp_path: Path) -> None:
    ws = tmp_path
    git = ws / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "config").write_text("[core]\n")
    (git / "hooks" / "pre-commit.sample").write_text("sample\n")
    (git / "objects").mkdir()
    (ws / "AGENTS.md").write_text("rules\n")
    (ws / ".codeward").mkdir()
    (ws / ".codeward" / "config.toml").write_text("a = 1\n")
    tw = Tripwire.take(ws, [git, ws / "AGENTS.md", ws / ".codeward", ws / ".codexignore"])
    (git / "config").write_text("[core]\n\thooksPath = /tmp/x\n")
    (git / "hooks" / "pre-commit").write_text("evil\n")
    os.chmod(git / "hooks" / "pre-commit.sample", 0o755)
    (git / "objects" / "new").write_text("data")  # data, not code: left alone
    (ws / "AGENTS.md").unlink()
    os.symlink("/etc/passwd", ws / "AGENTS.md")
    (ws / ".codeward" / "config.toml").unlink()
    (ws / ".codeward" / "extra").mkdir()
    (ws / ".codexignore").write_text("!*\n")
    changed = tw.restore()
    assert changed == sorted(
        [
            ".codeward/config.toml",
            ".codeward/extra (moved to .codeward/extra.codeward-undone-1)",
            ".codexignore",
            ".git/config",
            ".git/hooks/pre-commit (moved to .git/hooks/pre-commit.codeward-undone-1)",
            ".git/hooks/pre-commit.sample",
            "AGENTS.md",
        ]
    )
    assert (git / "config").read_text() == "[core]\n"
    assert not (git / "hooks" / "pre-commit").exists()
    assert (git / "hooks" / "pre-commit.sample").stat().st_mode & 0o777 != 0o755
    assert not (ws / "AGENTS.md").is_symlink() and (ws / "AGENTS.md").read_text() == "rules\n"
    assert (ws / ".codeward" / "config.toml").read_text() == "a = 1\n"
    assert not (ws / ".codeward" / "extra").exists()
    assert not (ws / ".codexignore").exists()
    assert (git / "objects" / "new").exists()
    # nothing the command made is deleted: it is moved aside, next to where it was
    assert (git / "hooks" / "pre-commit.codeward-undone-1").read_text() == "evil\n"
    assert (ws / ".codexignore.codeward-undone-1").read_text() == "!*\n"
    assert os.readlink(ws / "AGENTS.md.codeward-undone-1") == "/etc/passwd"
    assert tw.restore() == []


def test_tripwire_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    """The restore runs unconfined: a directory swapped for a link must not aim it elsewhere.

    The renamed directory is found by identity and renamed back; the link is moved aside.
    """
    ws = tmp_path / "ws"
    elsewhere = tmp_path / "elsewhere"
    (ws / "sub" / ".git" / "hooks").mkdir(parents=True)
    (ws / "sub" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ws / "sub" / ".git" / "config").write_text("[core]\n")
    (ws / "sub" / "AGENTS.md").write_text("rules\n")
    (elsewhere / ".git" / "hooks").mkdir(parents=True)
    (elsewhere / ".git" / "hooks" / "theirs").write_text("keep me\n")
    tw = Tripwire.take(ws, [ws / "sub" / ".git", ws / "sub" / "AGENTS.md"])
    (ws / "sub").rename(ws / "moved")
    (ws / "sub").symlink_to(elsewhere)
    changed = tw.restore()
    assert (elsewhere / ".git" / "hooks" / "theirs").read_text() == "keep me\n"
    assert not (elsewhere / "AGENTS.md").exists()
    assert not (elsewhere / ".git" / "config").exists()
    assert not (ws / "sub").is_symlink() and (ws / "sub" / "AGENTS.md").read_text() == "rules\n"
    assert not (ws / "moved").exists()
    assert os.readlink(ws / "sub.codeward-undone-1") == str(elsewhere)
    assert changed[0].startswith("sub (moved back from moved")


def _nested_repo_ws(ws: Path) -> Path:
    (ws / "config").mkdir(parents=True)
    (ws / "config" / ".codexignore").write_text("production.yml\n")
    lib = ws / "vendor" / "lib"
    (lib / ".git" / "hooks").mkdir(parents=True)
    (lib / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (lib / ".git" / "config").write_text("[core]\n")
    (lib / ".git" / "objects").mkdir()
    (lib / ".git" / "objects" / "history").write_text("the user's history\n")
    return lib


def _move_and_plant(ws: Path, lib: Path) -> None:
    (ws / "config").rename(ws / "cfg")
    lib.rename(ws / "vendor" / "lib.orig")
    (lib / ".git").mkdir(parents=True)
    (lib / ".git" / "config").write_text("[core]\n\tfsmonitor = touch /tmp/owned\n")


def test_tripwire_puts_renamed_ancestors_back_by_identity(tmp_path: Path) -> None:
    """``mv config cfg`` and ``mv lib lib.orig; mkdir lib; git init lib`` are undone by inode, nothing deleted."""
    ws = tmp_path / "ws"
    lib = _nested_repo_ws(ws)
    tw = Tripwire.take(ws, [ws / "config" / ".codexignore", lib / ".git"])
    _move_and_plant(ws, lib)
    tw.restore()
    assert (ws / "config" / ".codexignore").read_text() == "production.yml\n"
    assert not (ws / "cfg").exists()
    assert (lib / ".git" / "objects" / "history").read_text() == "the user's history\n"
    assert (lib / ".git" / "config").read_text() == "[core]\n"
    planted = ws / "vendor" / "lib.codeward-undone-1" / ".git" / "config"
    assert "fsmonitor" in planted.read_text()  # kept, moved aside, never run by git at its new name
    # control: without the restore the planted repository is where git looks, the rules are gone
    ctl = tmp_path / "control"
    ctl_lib = _nested_repo_ws(ctl)
    _move_and_plant(ctl, ctl_lib)
    assert "fsmonitor" in (ctl_lib / ".git" / "config").read_text()
    assert not (ctl / "config" / ".codexignore").exists()


def test_tripwire_reports_what_it_cannot_put_back(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    lib = _nested_repo_ws(ws)
    tw = Tripwire.take(ws, [lib / ".git"])
    lib.rename(tmp_path / "gone")  # out of the workspace: not found by identity
    changed = tw.restore()
    assert any("vendor/lib (it was removed or moved out of the workspace)" in c for c in changed)
    assert (tmp_path / "gone" / ".git" / "objects" / "history").exists()
    assert not lib.exists()  # no half repository recreated from the recorded config


def test_renamed_hidden_file_is_put_back_by_identity(tmp_path: Path) -> None:
    """Where a tier cannot pin a hidden file (no mounts), renaming it is undone, so host tools that
    decide by path (read_file, the next spec) never see it under an unignored name."""
    ws = tmp_path
    (ws / "config").mkdir()
    secret = ws / "config" / "production.yml"
    secret.write_text("password: x\n")
    tw = Tripwire.take(ws, [], identities=[secret])
    (ws / "config").rename(ws / "cfg")
    (ws / "cfg" / "production.yml").rename(ws / "cfg" / "notes.txt")
    changed = tw.restore()
    assert secret.read_text() == "password: x\n"
    assert not (ws / "cfg").exists()
    assert [c.split(" (")[0] for c in changed] == ["config", "config/production.yml"]
