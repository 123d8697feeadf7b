"""Red team rt13: the session learner's inotify watch (privacy/tree_watch.py) against a full walk.

Each test asserts what the walk the watch replaces gives (the secure outcome) and failed on 063b254;
the ``walk-control`` cases show the same sequence with every refresh a full walk. The fix: every
other name of a file with several is looked at again when one of them changes, and a write reported
at a name that no longer leads to the written file makes the refresh a full walk. A write the kernel
reports nowhere (native AIO, like a memory map) is the periodic full walk's: tested against that bound.
"""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.support.cli import write_config
from tests.support.leaks import SHIFT, shifted_leaks
from tests.support.model_server import strings
from tests.support.sessions import offline_session
from tests.support.tree_driver import Driver

from codeward.errors import SandboxUnavailable
from codeward.privacy import tree_watch

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
SECRET_LINE = f"aws_secret_access_key = {AWS}\n"


def leaked(text: str) -> list[str]:
    return shifted_leaks(AWS, text)


def _tier(home: Path, tier: str) -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(home, "http://127.0.0.1:9/v1", "chat", extra=f'[sandbox]\ntier = "{tier}"\noutput_cap_bytes = 1048576')


def _dispatch(s: Any, command: str, n: int) -> str:
    from codeward.providers.types import ToolCall

    return str(s.agent.tools.dispatch(ToolCall(f"c{n}", "shell", json.dumps({"command": command})), s.ctx).text)


def _sent(s: Any, outputs: list[str]) -> str:
    """The tool results as the gate would send them."""
    body = {"messages": [{"role": "tool", "tool_call_id": f"c{i}", "content": o} for i, o in enumerate(outputs)]}
    return "\n".join(strings(json.loads(s.gate.prepare(body, record=False).body)))


def _walk_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: the learner as before 063b254 (every refresh a full walk)."""
    monkeypatch.setattr(tree_watch.TreeWatch, "current", lambda self, stamps: None)


@pytest.mark.sandbox
@pytest.mark.parametrize("watch", [True, False], ids=["watch", "walk-control"])
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("name", [".env", "settings_local.py"])
def test_a_second_name_made_by_a_command_carries_the_users_secret_out(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, tier: str, name: str, watch: bool
) -> None:
    """A command links an empty file (``__init__.py``) to the name the user will fill in. The watch
    re-stats only the name an event gives (the new one), so the first name keeps its old stamp (one
    link, size 0): the user's write through the new name is scanned there, never under the first
    name, and the sweep skips a file its stamp says is empty. The next command reads the secret
    raw through the first name, within the 60 s before the next full walk."""
    _tier(cw_home, tier)
    if not watch:
        _walk_always(monkeypatch)
    (git_repo / "__init__.py").write_text("")
    s = offline_session(git_repo)
    outputs = [_dispatch(s, "true", 0), _dispatch(s, "true", 1)]  # the second full walk: the watch is believed
    outputs.append(_dispatch(s, f"ln __init__.py {name} && echo linked", 2))
    assert "linked" in outputs[-1], outputs[-1]
    with open(git_repo / name, "a") as f:  # the user fills it in (an editor writes a linked file in place)
        f.write(SECRET_LINE)
    outputs.append(_dispatch(s, f"cat __init__.py | {SHIFT}", 3))
    learner = s.gate.redactor.learner
    if watch:
        assert learner.watch is not None and learner.watch.refreshes >= 2  # the watch answered
    assert outputs[-1].startswith("exit code: 0"), outputs[-1]
    assert leaked(_sent(s, outputs)) == []


@pytest.mark.sandbox
@pytest.mark.parametrize("watch", [True, False], ids=["watch", "walk-control"])
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("replace", ["rm", "rename-over"])
def test_a_host_writer_whose_name_a_command_moved_to_another_link_is_never_scanned(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, tier: str, replace: str, watch: bool
) -> None:
    """A host process keeps ``dev.log`` open (``npm run dev > dev.log``) and writes a secret later.
    A command gives the file a second name and removes (or replaces) the first: the kernel reports
    the host's writes under the name the file was opened by, ``dev.log``, which the watch finds
    gone (or another file), so the second name, with one link, is never looked at again: neither
    scanned nor redacted, and the value is not learned. A full walk sees its size and times move."""
    _tier(cw_home, tier)
    if not watch:
        _walk_always(monkeypatch)
    with open(git_repo / "dev.log", "a") as log:
        log.write("server started\n")
        log.flush()
        s = offline_session(git_repo)
        outputs = [_dispatch(s, "true", 0), _dispatch(s, "true", 1)]
        then = "rm dev.log" if replace == "rm" else ": > fresh.log && mv fresh.log dev.log"
        outputs.append(_dispatch(s, f"ln dev.log keep.txt && {then} && echo moved", 2))
        assert "moved" in outputs[-1], outputs[-1]
        _sent(s, outputs)  # the request that carries the command's output refreshes the learner
        log.write(f"config loaded: {SECRET_LINE}")  # the host's server logs its configuration
        log.flush()
        outputs.append(_dispatch(s, f"cat keep.txt | {SHIFT}", 3))
    learner = s.gate.redactor.learner
    if watch:
        assert learner.watch is not None and learner.watch.refreshes >= 2
    assert outputs[-1].startswith("exit code: 0"), outputs[-1]
    learned = AWS in [v for v, _ in s.gate.redactor.known.items()]
    assert (leaked(_sent(s, outputs)), learned) == ([], True)  # nothing leaked, and the value is learned


def test_a_link_made_in_the_workspace_leaves_the_first_names_stamp_stale(tree: Path) -> None:
    """The event names the new link only; the first name (one link in its stamp) is in no ``_linked``
    set, so a write through the new name changes it unseen (the e2e test above)."""
    d = Driver(tree)
    d.refresh()  # the second walk: believed from here
    try:
        os.link(tree / "src/pkg/__init__.py", tree / ".env")
        with open(tree / ".env", "a") as f:
            f.write(SECRET_LINE)
        d.refresh()
        with open(tree / ".env", "a") as f:
            f.write(SECRET_LINE)
        assert d.stale() == {}
        assert d.answered == 2
    finally:
        d.watch.close()


def test_writes_through_an_fd_whose_name_was_removed_reach_the_other_link(tree: Path) -> None:
    """The kernel names a write by the dentry the file was opened through; once that name is removed
    (or replaced), the event names an entry that is gone, and the file's other name, with one link,
    is never looked at again."""
    with open(tree / "docs/readme.md", "a") as held:
        d = Driver(tree)
        d.refresh()  # the second walk: believed from here
        try:
            os.link(tree / "docs/readme.md", tree / "keep.txt")
            os.unlink(tree / "docs/readme.md")
            d.refresh()
            held.write(SECRET_LINE)
            held.flush()
            assert d.stale() == {}  # the write's name leads nowhere now: a full walk found it
        finally:
            d.watch.close()


class _Iocb(ctypes.Structure):
    _fields_: ClassVar[list[tuple[str, Any]]] = [
        ("data", ctypes.c_uint64),
        ("key", ctypes.c_uint32),
        ("rw_flags", ctypes.c_int32),
        ("opcode", ctypes.c_uint16),
        ("reqprio", ctypes.c_int16),
        ("fildes", ctypes.c_uint32),
        ("buf", ctypes.c_uint64),
        ("nbytes", ctypes.c_uint64),
        ("offset", ctypes.c_int64),
        ("reserved2", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("resfd", ctypes.c_uint32),
    ]


def _aio_pwrite(fd: int, data: bytes, offset: int) -> None:
    """One write through Linux native AIO (io_setup/io_submit/io_getevents, x86_64 numbers), as
    InnoDB and other databases write their files."""
    if os.uname().machine != "x86_64":
        pytest.skip("syscall numbers for x86_64 only")
    libc = ctypes.CDLL(None, use_errno=True)
    ctx = ctypes.c_ulong(0)
    assert libc.syscall(206, 8, ctypes.byref(ctx)) == 0, ctypes.get_errno()
    buf = ctypes.create_string_buffer(data)
    cb = _Iocb(opcode=1, fildes=fd, buf=ctypes.addressof(buf), nbytes=len(data), offset=offset)
    cbs = (ctypes.POINTER(_Iocb) * 1)(ctypes.pointer(cb))
    assert libc.syscall(209, ctx, 1, cbs) == 1, ctypes.get_errno()
    events = (ctypes.c_uint64 * 4)()
    assert libc.syscall(208, ctx, 1, 1, events, None) == 1
    libc.syscall(207, ctx)


def test_a_native_aio_write_is_seen_within_the_bound(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fs/aio.c completes a write with no fsnotify event: like a memory map, a write only the
    periodic full walk sees (``tree_watch.FULL_WALK_EVERY_S``)."""
    fd = os.open(tree / "docs/readme.md", os.O_RDWR)
    d = Driver(tree)
    d.refresh()  # the second walk: believed from here
    try:
        _aio_pwrite(fd, SECRET_LINE.encode(), 0)
        got = d.watch.current(d.stamps)
        assert got is not None and str(tree / "docs/readme.md") not in got[1]  # the gap
        monkeypatch.setattr(tree_watch, "FULL_WALK_EVERY_S", 0.0)
        assert d.stale() == {}
    finally:
        os.close(fd)
        d.watch.close()


def test_a_linked_unnamed_file_written_later_is_seen(tree: Path) -> None:
    """An O_TMPFILE given a name with linkat and written through its descriptor afterwards: the
    events name ``#<inode>`` (the unnamed dentry), not the name it was given."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(tree / "docs", os.O_TMPFILE | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"draft\n")
        at_empty_path = 0x1000
        if libc.linkat(fd, b"", -100, str(tree / "docs/notes.txt").encode(), at_empty_path) != 0:
            pytest.skip(f"linkat(AT_EMPTY_PATH): {os.strerror(ctypes.get_errno())}")
        d = Driver(tree)
        d.refresh()  # the second walk: believed from here
        try:
            os.write(fd, SECRET_LINE.encode())
            assert d.stale() == {}
        finally:
            d.watch.close()
    finally:
        os.close(fd)
