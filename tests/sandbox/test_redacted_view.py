"""The redacted view's parts: copies made fresh and never through a planted link, files that cannot
be redacted hidden (fail closed) on the real tiers, copies out of a command's reach, and the note."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codeward.sandbox import redacted_view as rv
from codeward.sandbox.layout import build_layout
from codeward.sandbox.notes import explain
from codeward.sandbox.spec import SandboxSpec

SECRET = "riverbankmoon-Hs8Dk2Lq9Wz4"


def _redact(text: str, rel: str) -> str:
    return text.replace(SECRET, "<secret:test:00000000>")


def _boom(text: str, rel: str) -> str:
    raise RuntimeError("scanner failed")


def test_copies_are_redacted_private_and_keep_the_mode(tmp_path: Path) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    script = ws / "deploy.sh"
    script.write_text(f"#!/bin/sh\necho {SECRET}\n")
    script.chmod(0o755)
    os.utime(script, ns=(1_000_000_000_000_000_000, 1_100_000_000_000_000_000))
    plan = rv.prepare(home, ws, [script], _redact)
    try:
        [(host, copy)] = plan.redacted
        assert host == script and copy.parent == plan.directory
        assert copy.read_text() == "#!/bin/sh\necho <secret:test:00000000>\n"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o755
        assert copy.stat().st_mtime_ns == 1_100_000_000_000_000_000  # make and ls -l see the file's own time
        assert stat.S_IMODE(plan.directory.stat().st_mode) == 0o700  # type: ignore[union-attr]
        assert stat.S_IMODE((home / "run").stat().st_mode) == 0o700
        other = rv.prepare(home, ws, [script], _redact)
        assert other.directory != plan.directory  # a fresh directory for every command
        other.remove()
    finally:
        plan.remove()
    assert list((home / "run").iterdir()) == []


def test_a_planted_link_at_a_copy_name_is_not_followed(tmp_path: Path) -> None:
    d = tmp_path / "copies"
    d.mkdir()
    target = tmp_path / "victim"
    target.write_text("untouched\n")
    (d / "0").symlink_to(target)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileExistsError):
            rv.write_copy(fd, "0", b"overwritten\n", 0o644)
    finally:
        os.close(fd)
    assert target.read_text() == "untouched\n"


def test_a_shared_run_dir_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    (home / "run").chmod(0o777)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.conf").write_text(SECRET)
    with pytest.raises(rv.ViewError, match="private directory"):
        rv.prepare(home, ws, [ws / "a.conf"], _redact)


def test_files_that_cannot_be_redacted_are_hidden(tmp_path: Path) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    (ws / "bad.conf").write_text(SECRET)
    (ws / "blob.bin").write_bytes(b"\0\1" + SECRET.encode())
    (ws / "big.txt").write_bytes(b"x" * (rv.MAX_COPY_BYTES + 1))
    (ws / "big.so").write_bytes(b"\x7fELF\0" + b"x" * rv.MAX_COPY_BYTES)
    (ws / "good.conf").write_text(SECRET)
    paths = [ws / "blob.bin", ws / "big.txt", ws / "big.so", ws / "gone.txt"]
    plan = rv.prepare(home, ws, paths, _redact)
    plan.remove()
    # a large text file cannot be scanned, and a binary named here held a secret in its strings (or
    # was too large to read): no redacted copy of either can be made, so both are hidden
    assert plan.hidden == (ws / "big.so", ws / "big.txt", ws / "blob.bin") and plan.redacted == ()
    plan = rv.prepare(home, ws, [ws / "bad.conf", ws / "good.conf"], lambda t, r: _boom(t, r) if "bad" in r else t)
    plan.remove()
    assert plan.hidden == (ws / "bad.conf",) and [h for h, _ in plan.redacted] == [ws / "good.conf"]
    spec = plan.apply(SandboxSpec(workspace=ws, cwd=ws))
    assert ws / "bad.conf" in spec.masked


def test_copies_of_dead_processes_are_swept(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    (ws / "a.conf").write_text(SECRET)
    stale = home / "run" / "view-999999999-abc"
    stale.mkdir(parents=True)
    (home / "run").chmod(0o700)
    (stale / "0").write_text("left by a crash")
    plan = rv.prepare(home, ws, [ws / "a.conf"], _redact)
    plan.remove()
    assert not stale.exists()


def test_the_layout_binds_regular_files_only_and_anchors_their_directories(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "config" / "deep").mkdir(parents=True)
    (ws / "config" / "deep" / "app.conf").write_text(SECRET)
    (ws / "link.conf").symlink_to(ws / "config" / "deep" / "app.conf")
    (ws / "hidden").mkdir()
    (ws / "hidden" / "x.conf").write_text(SECRET)
    copy = tmp_path / "copy"
    copy.write_text("c")
    pairs = tuple((p, copy) for p in (ws / "config" / "deep" / "app.conf", ws / "link.conf", ws / "hidden" / "x.conf"))
    spec = SandboxSpec(workspace=ws, cwd=ws, redacted=pairs, masked=(ws / "hidden",), codeward_home=tmp_path / "h")
    layout = build_layout(spec, homes=[], private_dirs=[], sockets=[], system_secrets=[])
    assert [h for h, _ in layout.redacted] == [ws / "config" / "deep" / "app.conf"]
    assert ws / "config" in layout.anchored and ws / "config" / "deep" in layout.anchored


def test_the_note_names_the_file_and_apply_patch(tmp_path: Path) -> None:
    ws = tmp_path
    spec = SandboxSpec(workspace=ws, cwd=ws, redacted=((ws / "config.py", tmp_path / "c"),))
    note = explain(
        exit_code=1,
        output="bash: config.py: Read-only file system\n",
        timed_out=False,
        spec=spec,
        tier="bwrap",
    )
    assert note is not None and "config.py holds secrets" in note and "apply_patch" in note
    busy = explain(
        exit_code=4,
        output="sed: cannot rename ./sedX1: Device or resource busy\n",
        timed_out=False,
        spec=spec,
        tier="bwrap",
    )
    assert busy is not None and "config.py holds secrets" in busy
    changed = explain(exit_code=0, output="", timed_out=False, spec=spec, tier="landlock", discarded=["config.py"])
    assert changed is not None and "discarded" in changed and "apply_patch" in changed
    both = explain(
        exit_code=0,
        output="",
        timed_out=False,
        spec=spec,
        tier="landlock",
        discarded=["config.py"],
        restored=["AGENTS.md"],
    )
    assert both is not None and "AGENTS.md" in both and "config.py holds secrets" in both


@pytest.mark.sandbox
def test_unredactable_files_are_hidden_and_copies_out_of_reach(sandbox, project) -> None:
    """On each real tier (the ``none`` control must fail): a file whose redaction fails cannot be
    read, a redacted one shows placeholders, and no command can find or read the copy directory."""
    ws = project.root
    (ws / "bad.conf").write_text(f"pw = {SECRET}\n")
    (ws / "good.conf").write_text(f"ordinary\npw = {SECRET}\n")
    spec = project.spec()
    redact = lambda text, rel: _boom(text, rel) if rel == "bad.conf" else _redact(text, rel)  # noqa: E731
    with rv.view_for(spec, project.cw_home, lambda: [ws / "bad.conf", ws / "good.conf"], redact) as shown:
        [(_, copy)] = shown.redacted
        probe = f"cat {copy} && echo REACHABLE-COPY; ls {copy.parent} && echo REACHABLE-DIR"
        result = sandbox.run(["bash", "-c", f"cat bad.conf; cat good.conf; {probe}; true"], shown)
    assert "ordinary" in result.output and "<secret:test:00000000>" in result.output
    assert SECRET not in result.output and "REACHABLE" not in result.output
    assert (ws / "bad.conf").read_text() == f"pw = {SECRET}\n"
    assert (ws / "good.conf").read_text() == f"ordinary\npw = {SECRET}\n"
    assert not list((project.cw_home / "run").glob("view-*"))


@pytest.mark.sandbox
def test_bwrap_shows_the_copy_when_the_launcher_mounts_the_view(project) -> None:
    """As root with more ignored files than bwrap's own binds take (the launcher mounts anchors and
    stubs inside), the copy is still what a command reads, and neither it nor its directory moves."""
    from codeward.sandbox import select_sandbox
    from codeward.sandbox.bwrap import INSIDE_THRESHOLD

    if os.geteuid() != 0:
        pytest.skip("the launcher mounts the view only for root")
    try:
        sandbox = select_sandbox("bwrap")
    except Exception as e:
        pytest.skip(f"bwrap: {e}")
    ws = project.root
    keys = ws / "keys"
    keys.mkdir()
    for i in range(INSIDE_THRESHOLD + 20):
        (keys / f"k{i}.pem").write_text(f"k{i}\n")
        (keys / f"k{i}.txt").write_text("x\n")
    (ws / "config").mkdir()
    (ws / "config" / "app.conf").write_text(f"ordinary\npw = {SECRET}\n")
    spec = project.spec()
    with rv.view_for(spec, project.cw_home, lambda: [ws / "config" / "app.conf"], _redact) as shown:
        out = sandbox.run(
            ["bash", "-c", "cat config/app.conf keys/k1.pem; mv config c2; mv config/app.conf x; true"], shown
        ).output
    assert "ordinary" in out and "<secret:test:00000000>" in out and SECRET not in out and "k1\n" not in out
    assert out.count("Device or resource busy") == 2
    assert (ws / "config" / "app.conf").read_text() == f"ordinary\npw = {SECRET}\n"


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "keep_owner", [True, pytest.param(False, marks=pytest.mark.xfail(strict=True, raises=AssertionError))]
)
def test_landlock_as_root_shows_a_private_file_to_its_owner(
    landlock, project, monkeypatch: pytest.MonkeyPatch, keep_owner: bool
) -> None:
    """A root codeward runs Landlock commands as the workspace's owner: the copy put in place of a
    0600 file is that owner's too, as the file is (the control: a root-owned copy in a user's tree)."""
    if os.geteuid() != 0:
        pytest.skip("ownership of the copy matters only when codeward runs as root")
    ws = project.root
    secret = ws / "app.conf"
    secret.write_text(f"ordinary\npw = {SECRET}\n")
    secret.chmod(0o600)
    for p in [ws, *ws.rglob("*")]:
        os.lchown(p, 4242, 4242)
    monkeypatch.setenv("SUDO_UID", "4242")  # root through sudo by the owner: their repository (git's rule)
    if not keep_owner:
        real = rv.write_copy
        monkeypatch.setattr(
            rv,
            "write_copy",
            lambda fd, name, data, mode, owner=None, times_ns=None: real(fd, name, data, mode, None, times_ns),
        )
    with rv.view_for(project.spec(), project.cw_home, lambda: [secret], _redact) as shown:
        out = landlock.run(["bash", "-c", "id -u; stat -c 'owner=%u:%g mode=%a' app.conf; cat app.conf"], shown).output
    assert (
        "owner=4242:4242 mode=600" in out
        and "ordinary" in out
        and "<secret:test:00000000>" in out
        and SECRET not in out
    )
    assert secret.read_text() == f"ordinary\npw = {SECRET}\n" and secret.stat().st_uid == 4242


def test_hidden_files_get_no_copy(tmp_path: Path) -> None:
    """An ignored file is absent for commands, not shown redacted: no copy is made for it or for a
    file below a hidden directory (nor for paths outside the workspace)."""
    ws, home = tmp_path / "ws", tmp_path / "home"
    (ws / "private").mkdir(parents=True)
    for name in (".env", "private/notes.txt", "app.conf"):
        (ws / name).write_text(SECRET)
    (tmp_path / "outside.conf").write_text(SECRET)
    paths = [ws / ".env", ws / "private" / "notes.txt", ws / "app.conf", tmp_path / "outside.conf"]
    plan = rv.prepare(home, ws, paths, _redact, hidden=[ws / ".env", ws / "private"])
    plan.remove()
    assert [h for h, _ in plan.redacted] == [ws / "app.conf"] and plan.hidden == ()
