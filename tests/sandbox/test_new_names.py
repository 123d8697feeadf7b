"""The session's watch of new names (codeward.sandbox.new_names), on real inotify, without a sandbox.

What appears between the view's computation and a command is handed back to be hidden; a new
directory holding a hidden file is found however it came (made, moved in); the watch limit fails
closed with the sysctl to raise; only new directories are added per command.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import os
from pathlib import Path

import pytest

from codeward.dirindex import DirIndex
from codeward.errors import SandboxUnavailable
from codeward.sandbox.new_names import NewNames


class Rules:
    """The default rules this needs: ``.env*``, ``*.key`` and ``*.pem`` files, ``secrets/`` directories."""

    key = "test-rules"

    def hides(self, rel: str, is_dir: bool) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return name.startswith(".env") or name.endswith((".key", ".pem")) or (is_dir and name == "secrets")


def _index(root: Path) -> DirIndex:
    index = DirIndex(root, frozenset({".git"}))
    index.refresh(Rules())
    return index


def test_what_appears_before_a_command_is_handed_back(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    assert watch.prepare(index, []) == []
    (tmp_path / "src" / ".env").write_text("A=1\n")  # after the view, before the next command
    moved = tmp_path.parent / f"{tmp_path.name}-outside"
    (moved / "deep").mkdir(parents=True)
    (moved / "deep" / "api.key").write_text("k\n")
    os.rename(moved, tmp_path / "vendor")  # a tree moved in whole
    (tmp_path / "notes.txt").write_text("ordinary\n")
    index.refresh()
    got = watch.prepare(index, [])
    assert sorted(got) == [tmp_path / "src" / ".env", tmp_path / "vendor" / "deep" / "api.key"]
    assert watch.prepare(index, got) == []  # once the view covers them, nothing more
    watch.close()


def test_only_new_directories_are_added(tmp_path: Path) -> None:
    for i in range(20):
        (tmp_path / f"d{i}").mkdir()
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    assert watch.watched == 21
    added: list[bytes] = []
    real = watch._libc.inotify_add_watch

    def spy(fd: int, path: bytes, mask: int) -> int:
        added.append(path)
        return int(real(fd, path, mask))

    watch._libc.inotify_add_watch = spy
    (tmp_path / "new").mkdir()
    index.refresh()
    watch.prepare(index, [])
    assert added == [os.fsencode(tmp_path / "new")]
    watch.close()


def test_a_new_hidden_file_opened_by_another_than_its_maker_stops(tmp_path: Path) -> None:
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    (tmp_path / "mine.key").write_text("made and written: one open\n")
    (tmp_path / "notes.txt").write_text("x\n")
    (tmp_path / "notes.txt").read_text()
    assert not watch.poll()
    (tmp_path / "mine.key").read_text()  # a second open: whoever it is, it may read what the maker wrote
    assert watch.poll() and watch.found == [str(tmp_path / "mine.key")]
    watch.close()


# a DER SEQUENCE of the length it declares: all the content rule asks of a certificate block
CERT = b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"\x30\x03\x02\x01\x05") + b"\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nCWMARK-newkey\n-----END PRIVATE KEY-----\n"


def _armed(root: Path) -> NewNames:
    watch = NewNames(root, Rules().hides, Rules.key)
    watch.prepare(_index(root), [])
    watch.arm([])
    return watch


def test_a_new_certificate_bundle_may_be_read_back(tmp_path: Path) -> None:
    """pip writes certifi's ``cacert.pem`` into a new venv and reads it back to hash it: public by
    content, so not a stop; a later write to it still is."""
    watch = _armed(tmp_path)
    bundle = tmp_path / "cacert.pem"
    bundle.write_bytes(b"# Issuer: CN=Example\n" + CERT + CERT)
    assert bundle.read_bytes().count(b"BEGIN") == 2
    bundle.read_bytes()
    assert not watch.poll()
    with bundle.open("ab") as f:  # written again after it was judged: over its maker's one close
        f.write(b"\n")
    assert watch.poll() and watch.found == [str(bundle)]
    watch.close()


@pytest.mark.parametrize("how", ["key", "still-open", "renamed-over"])
def test_a_new_pem_that_is_not_public_when_read_stops(tmp_path: Path, how: str) -> None:
    """Judged on the file that was counted, after its writer closed it: a key, a bundle read while
    its writer still has it open, and a key read before a bundle was renamed over it all stop."""
    watch = _armed(tmp_path)
    pem = tmp_path / "server.pem"
    if how == "key":
        pem.write_bytes(CERT + KEY)
        pem.read_bytes()
    elif how == "still-open":
        with pem.open("wb") as f:
            f.write(CERT)
            f.flush()
            pem.read_bytes()
    else:
        pem.write_bytes(KEY)
        pem.read_bytes()
        (tmp_path / "draft").write_bytes(CERT)
        os.rename(tmp_path / "draft", pem)
    assert watch.poll() and str(pem) in watch.found
    watch.close()


def test_a_new_hidden_directory_is_watched_and_its_files_may_not_be_opened(tmp_path: Path) -> None:
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    (tmp_path / "secrets").mkdir()
    assert not watch.poll()  # the directory is watched from here on
    (tmp_path / "secrets" / "token.txt").write_text("t\n")
    assert not watch.poll()
    (tmp_path / "secrets" / "token.txt").read_text()
    assert watch.poll() and str(tmp_path / "secrets" / "token.txt") in watch.found
    watch.close()


def test_the_watch_limit_fails_closed_with_the_fix(tmp_path: Path) -> None:
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)

    def full(fd: int, path: bytes, mask: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    watch._libc.inotify_add_watch = full
    with pytest.raises(SandboxUnavailable, match=r"max_user_watches.*sysctl fs\.inotify\.max_user_watches="):
        watch.prepare(index, [])
    watch.close()


@pytest.mark.parametrize("how", ["rename", "hard-link", "rename-then-link"])
def test_another_name_for_a_new_hidden_file_counts_its_opens(tmp_path: Path, how: str) -> None:
    """Renaming or linking a new hidden file to an ordinary name does not reset what it may be opened."""
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    (tmp_path / ".env.local").write_text("TOKEN=host\n")  # the host's save: its one open
    assert not watch.poll()
    if how == "rename":
        os.rename(tmp_path / ".env.local", tmp_path / "notes.txt")
    elif how == "hard-link":
        os.link(tmp_path / ".env.local", tmp_path / "notes.txt")
    else:
        os.rename(tmp_path / ".env.local", tmp_path / "a.txt")
        os.link(tmp_path / "a.txt", tmp_path / "notes.txt")
    assert not watch.poll()
    (tmp_path / "notes.txt").read_text()
    assert watch.poll() and watch.found == [str(tmp_path / ".env.local")]  # named where it appeared
    watch.close()


def test_a_new_hidden_file_moved_out_of_the_tree_stops(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    index = _index(root)
    watch = NewNames(root, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    (root / "x.key").write_text("k\n")
    os.rename(root / "x.key", tmp_path / "elsewhere.txt")  # where nothing counts its opens
    assert watch.poll() and watch.found == [str(root / "x.key")]
    watch.close()


def test_a_file_read_in_a_new_directory_before_its_watch_existed_stops(tmp_path: Path) -> None:
    """The moment between a new directory and its watch: a file made and read in it then is found
    by the listing that follows the watch, and its access time (later than its last write) tells."""
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    (tmp_path / "deploy").mkdir()
    key = tmp_path / "deploy" / "prod.key"
    key.write_text("k\n")
    os.utime(key, ns=(2_000_000_000_000_000_000, 1_000_000_000_000_000_000))  # read after its last write
    assert watch.poll() and str(key) in watch.found
    watch.close()


def test_a_second_open_merged_into_the_makers_still_shows(tmp_path: Path) -> None:
    """inotify merges two identical queued events: a reader opening right after the maker arrives as
    one open, but its read-only close (here after reading through a memory map, no read event) tells."""
    import mmap

    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    key = tmp_path / "new.key"
    maker = os.open(key, os.O_CREAT | os.O_WRONLY, 0o600)
    reader = os.open(key, os.O_RDONLY)  # queued right behind the maker's open: merged
    os.write(maker, b"secret-value\n")
    os.close(maker)
    with mmap.mmap(reader, 0, prot=mmap.PROT_READ) as m:
        assert m[:6] == b"secret"
    assert not watch.poll()  # two opens seen as one, a map is no read event: nothing yet
    os.close(reader)
    assert watch.poll() and watch.found == [str(key)]
    watch.close()


@pytest.mark.parametrize("made_meanwhile", [True, False])
def test_lost_events_are_read_from_the_tree(tmp_path: Path, made_meanwhile: bool) -> None:
    """More events than the kernel queues (``grep -r``): the lost ones are made up for by listing the
    directories that changed, so a flood of reads alone does not stop a command, and a hidden file
    made while events were being dropped still does."""
    (tmp_path / "src").mkdir()
    a, b = tmp_path / "src" / "a.txt", tmp_path / "src" / "b.txt"
    a.write_text("a\n")
    b.write_text("b\n")
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    watch.arm([])
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    for _ in range(limit // 2 + 10):  # alternating, so no two queued events are the same: none merge
        os.close(os.open(a, os.O_RDONLY))
        os.close(os.open(b, os.O_RDONLY))
    if made_meanwhile:
        (tmp_path / "late.key").write_text("k\n")  # its events are dropped: the queue is full
    recovered: list[bool] = []
    real = watch._recover
    watch._recover = lambda: (recovered.append(True), real())[1]  # type: ignore[method-assign]
    assert watch.poll() is made_meanwhile
    assert recovered == [True]  # the queue did overflow
    assert watch.found == ([str(tmp_path / "late.key")] if made_meanwhile else [])
    watch.close()
