"""Outside the workspace, what only its owner (or group) may read is hidden from commands.

An agent run as root keeps uid 0 inside the sandbox with every capability dropped, so root's own
``0600`` files (``/etc/mysql/debian.cnf``, a runner's ``config.toml``) stayed readable: no list of
known credential places covers every package. Judged from inside a real sandbox, with the
unsandboxed control, and the rule itself on a private tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

from codeward.sandbox.outside_private import private_entries

pytestmark = pytest.mark.sandbox
MARK = "OUTSIDEMARK-db-password-7731"


def test_the_rule_hides_what_only_the_owner_may_read(tmp_path: Path) -> None:
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
    (top / "link").symlink_to(top / "app" / "db.cnf")
    uid, gid = os.geteuid(), os.getegid()
    found, walked = private_entries([str(top)], [], uid, [gid])
    assert set(found.private) == {top / "app" / "db.cnf", top / "locked", top / "group-only"}
    assert not found.unchecked
    # another account's 0600 file is not this one's to read: nothing to hide
    assert private_entries([str(top)], [], uid + 1, [gid + 1])[0].private == ()
    # vouched-for directories are not walked; a walk that runs out hides what it did not reach
    assert top / "app" / "db.cnf" not in private_entries([str(top)], [top / "app"], uid, [gid])[0].private
    short, _ = private_entries([str(top)], [], uid, [gid], limit=1)
    assert short.unchecked, short
    # a later walk lists again only what changed: a new private file, a directory closed by chmod
    (top / "app" / "new.key").write_text(MARK)
    os.chmod(top / "app" / "new.key", 0o600)
    (top / "open").mkdir()
    os.chmod(top / "app", 0o700)
    for d in walked.values():
        d.racy = False  # as if the first walk were long ago
    again, _ = private_entries([str(top)], [], uid, [gid], known=walked)
    assert top / "app" in again.private  # closed since: hidden whole
    del walked[str(top / "app")]
    os.chmod(top / "app", 0o755)
    again, _ = private_entries([str(top)], [], uid, [gid], known=walked)
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
    try:
        yield conf, closed
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_roots_own_private_files_outside_are_hidden(
    sandbox: Any, project: Project, root_private: tuple[Path, Path]
) -> None:
    conf, closed = root_private
    r = project.run(
        sandbox, f"cat {conf}; cat {closed}/token; ls {closed}; cp {conf} c && cat c; cat {conf.parent}/public.txt"
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
    """A later process reuses the saved walk when every directory's signature matches; a new private
    file (its directory changed) or a saved walk that is racy makes it walk again."""
    from codeward.sandbox import outside_private as op

    top = tmp_path / "opt"
    (top / "app").mkdir(parents=True)
    (top / "app" / "a.cnf").write_text(MARK)
    os.chmod(top / "app" / "a.cnf", 0o600)
    monkeypatch.setattr(op, "WALKED_TOPS", (str(top),))
    monkeypatch.setattr(op, "_memo", {})
    cache = tmp_path / "cache"
    first = op.private_outside([], cache)
    assert first.private == (top / "app" / "a.cnf",)
    saved = op._load(cache, os.geteuid(), ())
    assert saved and all(d.racy for d in saved.values())  # just listed: not trusted yet
    assert op._replay(saved, os.geteuid(), frozenset({os.getegid()})) is None
    for d in saved.values():
        d.racy = False
    op._save(cache, os.geteuid(), (), saved)
    op._memo.clear()  # a new process
    assert op.private_outside([], cache).private == (top / "app" / "a.cnf",)
    (top / "app" / "b.key").write_text(MARK)
    os.chmod(top / "app" / "b.key", 0o600)
    op._memo.clear()
    assert top / "app" / "b.key" in op.private_outside([], cache).private
