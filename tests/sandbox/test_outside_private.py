"""Outside the workspace, what only its owner (or group) may read is hidden from commands.

An agent run as root keeps uid 0 inside the sandbox with every capability dropped, so root's own
``0600`` files (``/etc/mysql/debian.cnf``, a runner's ``config.toml``) stayed readable: no list of
known credential places covers every package. Judged from inside a real sandbox, with the
unsandboxed control, and the rule itself on a private tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

from codeward.sandbox.outside_private import private_entries

pytestmark = pytest.mark.sandbox
MARK = "OUTSIDEMARK-db-password-7731"


def test_the_rule_hides_what_other_accounts_may_not_read(tmp_path: Path) -> None:
    """Whoever owns it: a file without the other-read bit, a directory without the other-search
    bit (not walked), a group-only file; public files, links and other-searchable dirs stay."""
    top = tmp_path / "etc"
    (top / "app").mkdir(parents=True)
    (top / "app" / "public.conf").write_text("x")
    (top / "app" / "db.cnf").write_text(MARK)
    os.chmod(top / "app" / "db.cnf", 0o600)
    (top / "locked").mkdir()
    (top / "locked" / "inner").write_text(MARK)
    os.chmod(top / "locked", 0o700)
    (top / "group-only").write_text(MARK)
    os.chmod(top / "group-only", 0o640)
    (top / "nobodys").write_text(MARK)
    os.chmod(top / "nobodys", 0o000)  # CAP_DAC_OVERRIDE (the Landlock launcher's) reads it
    (top / "link").symlink_to(top / "app" / "db.cnf")
    found, walked = private_entries([str(top)], [])
    assert set(found.private) == {top / "app" / "db.cnf", top / "locked", top / "group-only", top / "nobodys"}
    assert not found.unchecked
    # vouched-for directories are not walked; a walk that runs out hides what it did not reach
    assert top / "app" / "db.cnf" not in private_entries([str(top)], [top / "app"])[0].private
    short, _ = private_entries([str(top)], [], limit=1)
    assert short.unchecked, short
    # a later walk lists again only what changed: a new private file, a directory closed by chmod
    (top / "app" / "new.key").write_text(MARK)
    os.chmod(top / "app" / "new.key", 0o600)
    os.chmod(top / "app", 0o700)
    for d in walked.values():
        d.racy = False  # as if the first walk were long ago
    again, walked = private_entries([str(top)], [], known=walked)
    assert top / "app" in again.private  # closed since: hidden whole
    os.chmod(top / "app", 0o755)
    again, _ = private_entries([str(top)], [], known=walked)
    assert top / "app" / "new.key" in again.private


@pytest.fixture
def root_private() -> Iterator[tuple[Path, Path]]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the files are root's own, in /opt, where only root may create them")
    d = Path(tempfile.mkdtemp(prefix="codeward-outside-", dir="/opt"))
    os.chmod(d, 0o755)
    conf = d / "debian.cnf"
    conf.write_text(f"password = {MARK}\n")
    os.chmod(conf, 0o600)
    closed = d / "state"
    closed.mkdir()
    (closed / "token").write_text(MARK)
    os.chmod(closed, 0o700)
    (d / "public.txt").write_text("public-ok\n")
    other = d / "other.conf"  # another account's: the Landlock launcher's command keeps CAP_DAC_OVERRIDE
    other.write_text(MARK)
    os.chown(other, 1001, 1001)
    os.chmod(other, 0o600)
    (d / "zero.conf").write_text(MARK)
    os.chmod(d / "zero.conf", 0o000)
    volume = d / "volume"  # another file system mounted under a walked directory
    volume.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(volume)], capture_output=True).returncode == 0
    if mounted:
        (volume / "s").write_text(MARK)
        os.chmod(volume / "s", 0o600)
    usr = Path(tempfile.mkdtemp(prefix="codeward-outside-", dir="/usr/share"))
    os.chmod(usr, 0o755)
    (usr / "k").write_text(MARK)
    os.chmod(usr / "k", 0o600)
    try:
        yield conf, closed
    finally:
        if mounted:
            subprocess.run(["umount", str(volume)], check=False)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(usr, ignore_errors=True)


def test_roots_own_private_files_outside_are_hidden(
    sandbox: Any, project: Project, root_private: tuple[Path, Path]
) -> None:
    conf, closed = root_private
    d = conf.parent
    r = project.run(
        sandbox,
        f"cat {conf}; cat {closed}/token; ls {closed}; cp {conf} c && cat c; cat {d}/public.txt; "
        f"cat {d}/other.conf {d}/zero.conf {d}/volume/s /usr/share/codeward-outside-*/k",
    )
    assert "public-ok" in r.output, r.output  # world-readable files stay usable
    assert MARK not in r.output, r.output


def test_a_launcher_spec_larger_than_one_argument_still_arrives() -> None:
    """Hiding a file in a directory of 1,600 entries costs the Landlock tier a rule per sibling; the
    spec then outgrew the kernel's 128 KiB limit on one argv string (E2BIG, an internal error). It
    now travels in pieces, each within the limit, and the launcher joins them."""
    import subprocess
    import sys

    from codeward.sandbox import launch

    text = "\n".join(["core 0"] * 40_000)  # 280 KB: one line each, as the rules are
    chunks = launch.spec_chunks(text)
    assert len(chunks) > 2 and all(len(c) <= launch.SPEC_CHUNK for c in chunks)
    assert "\n".join(chunks) == text
    argv = [sys.executable, "-I", "-S", "-c", launch.LAUNCHER_SOURCE, *chunks, "--", "echo", "arrived"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "arrived", r.stderr


def test_the_saved_walk_is_replayed_only_while_nothing_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later process reuses the saved walk when every directory's signature and every top-level
    directory matches; a new private file, a new or re-opened top-level directory, a racy or an
    old saved walk make it walk again (red team rt4: a top that was private when saved, then opened
    and filled, stayed unwalked)."""
    from codeward.sandbox import outside_private as op

    root = tmp_path / "root"
    (root / "opt" / "app").mkdir(parents=True)
    (root / "opt" / "app" / "a.cnf").write_text(MARK)
    os.chmod(root / "opt" / "app" / "a.cnf", 0o600)
    (root / "boot").mkdir()
    os.chmod(root / "boot", 0o700)
    (root / "key.json").write_text(MARK)  # a file directly under / (rt5: a container's /key.json)
    os.chmod(root / "key.json", 0o600)
    (root / "public.json").write_text("{}")
    monkeypatch.setattr(op, "walked_tops", lambda: op.tops_under(str(root)))
    monkeypatch.setattr(op, "_memo", {})
    cache = tmp_path / "cache"

    def new_process(*, seconds_later: float = op.REFRESH_S) -> tuple[Path, ...]:
        op._memo.clear()
        recent = cache / f"outside-{os.geteuid()}.recent"
        if recent.exists() and seconds_later >= op.REFRESH_S:  # what another process checked is too old
            recent.unlink()
        return op.private_outside([], cache).private

    assert set(new_process()) == {root / "opt" / "app" / "a.cnf", root / "boot", root / "key.json"}
    saved = op._load(cache, ())
    dirs, since, tops = saved.known(), saved.since, saved.tops
    assert dirs and any(d.racy for d in dirs.values())  # just listed: not trusted yet
    for d in dirs.values():
        d.racy = False
    assert tops is not None
    op._save(cache, (), dirs, since, tops, saved.answer or op.Outside(()))
    replayed: list[bool] = []
    real_replay = op._replay
    monkeypatch.setattr(op, "_replay", lambda saved: replayed.append(True) or real_replay(saved))
    assert set(new_process()) == {root / "opt" / "app" / "a.cnf", root / "boot", root / "key.json"}
    assert replayed  # the saved walk answered
    # the private top is opened and filled: the top's state changed, so it is walked again
    os.chmod(root / "boot", 0o755)
    (root / "boot" / "b.key").write_text(MARK)
    os.chmod(root / "boot" / "b.key", 0o600)
    assert root / "boot" / "b.key" in new_process()
    # a new private file in a known directory: within REFRESH_S of the last check a process takes
    # that check's answer (the same window a session gives itself); after it, it is found
    (root / "opt" / "app" / "c.key").write_text(MARK)
    os.chmod(root / "opt" / "app" / "c.key", 0o600)
    assert root / "opt" / "app" / "c.key" not in new_process(seconds_later=1)
    assert root / "opt" / "app" / "c.key" in new_process()
    # an old saved walk is not trusted: a chmod alone (no directory change) is then found
    (root / "opt" / "app" / "public").write_text(MARK)
    new_process()
    saved = op._load(cache, ())
    dirs, since, tops = saved.known(), saved.since, saved.tops
    for d in dirs.values():
        d.racy = False
    assert tops is not None
    op._save(cache, (), dirs, since, tops, saved.answer or op.Outside(()))
    os.chmod(root / "opt" / "app" / "public", 0o600)
    assert root / "opt" / "app" / "public" not in new_process()  # replayed: the documented window
    op._save(cache, (), dirs, since - op.MAX_AGE_S, tops, saved.answer or op.Outside(()))
    assert root / "opt" / "app" / "public" in new_process()


def test_sysfs_is_hidden_by_directory(tmp_path: Path) -> None:
    """Under /sys a readable private file hides its directory, a write-only attribute hides nothing,
    a directory with hidden entries in four or more subdirectories is hidden whole, and the
    directories above the CPU and cgroup trees are never collapsed (red team rt5 read ACPI tables)."""
    from codeward.sandbox import outside_private as op

    sysfs = str(tmp_path / "sys")

    def make(rel: str, mode: int) -> str:
        p = Path(sysfs, rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        os.chmod(p, mode)
        return str(p)

    found = [
        make("firmware/acpi/tables/APIC", 0o400),
        make("bus/pci/drivers/x/unbind", 0o200),  # write-only: nothing to read
        *(make(f"module/m{i}/parameters/p", 0o600) for i in range(5)),
        *(make(f"devices/system/c{i}/state", 0o400) for i in range(5)),
    ]
    kept = tuple(f"{sysfs}/{k}" for k in ("devices/system/cpu", "fs/cgroup"))
    original = op.SYSFS_KEPT
    op.SYSFS_KEPT = kept
    try:
        out = op.collapse_sysfs([*found, "/etc/shadow"], sysfs)
    finally:
        op.SYSFS_KEPT = original
    assert "/etc/shadow" in out
    assert f"{sysfs}/firmware/acpi/tables" in out
    assert not any("bus" in o for o in out)
    assert f"{sysfs}/module" in out and not any(o.startswith(f"{sysfs}/module/") for o in out)
    # devices/system lies above the CPU tree: its five subdirectories stay hidden one by one
    assert f"{sysfs}/devices/system" not in out and f"{sysfs}/devices/system/c0" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="root's private sysfs files: root only")
def test_a_private_sysfs_file_is_not_readable(sandbox: Any, project: Project) -> None:
    import stat as st

    for path in ("/sys/firmware/acpi/tables/APIC", "/sys/class/dmi/id/product_serial", "/sys/kernel/slab"):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if st.S_ISDIR(mode):
            entries = sorted(os.listdir(path))
            target = next((f"{path}/{e}/objects" for e in entries if os.path.exists(f"{path}/{e}/objects")), None)
            if target is None:
                continue
            path = target
        if not os.stat(path).st_mode & 0o004:
            data = Path(path).read_bytes()[:32]
            break
    else:
        pytest.skip("no private sysfs file here")
    r = project.run(sandbox, f"od -An -tx1 -v -N 32 {path} | tr -d ' \\n'")
    assert data.hex() not in r.output, f"{path} was read in the sandbox"
