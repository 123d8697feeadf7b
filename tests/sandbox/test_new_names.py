"""The session's watch of new names (codeward.sandbox.new_names), on real inotify, without a sandbox.

What appears between the view's computation and a command is handed back to be hidden; a new
directory holding a hidden file is found however it came (made, moved in); the watch limit fails
closed with the sysctl to raise; only new directories are added per command.
"""

from __future__ import annotations

import base64
import errno
import os
from pathlib import Path

import pytest

from codeward.dirindex import DirIndex, inotify
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


def test_only_new_directories_are_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(20):
        (tmp_path / f"d{i}").mkdir()
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    watch.prepare(index, [])
    assert watch.watched == 21
    added: list[str] = []
    real = inotify.add_watch

    def spy(fd: int, path: str, mask: int) -> int:
        added.append(path)
        return real(fd, path, mask)

    monkeypatch.setattr(inotify, "add_watch", spy)
    (tmp_path / "new").mkdir()
    index.refresh()
    watch.prepare(index, [])
    assert added == [str(tmp_path / "new")]
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


def test_the_watch_limit_fails_closed_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index(tmp_path)
    watch = NewNames(tmp_path, Rules().hides, Rules.key)
    monkeypatch.setattr(inotify, "add_watch", lambda fd, path, mask: -errno.ENOSPC)
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


SECRET = b"TOKEN=CWMARK-newnames-secret\n"


def test_a_certificate_swapped_in_for_the_hosts_new_file_is_no_pass(tmp_path: Path) -> None:
    """Red team rt7: the command moves the host's new file away (to an ordinary name) and its own
    certificate in before the watch reads the queue, so the file the watch counts is judged public
    while the host's secret sits under another name of the same count: a renamed count is never
    public, so reading either is a stop."""
    watch = _armed(tmp_path)
    (tmp_path / "c.txt").write_bytes(CERT)
    assert not watch.poll()
    fd = os.open(tmp_path / ".env.local", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # the host
    os.rename(tmp_path / ".env.local", tmp_path / "leak.txt")  # the command, before the queue is read
    os.rename(tmp_path / "c.txt", tmp_path / ".env.local")
    os.write(fd, SECRET)
    os.close(fd)
    watch.poll()  # the watch reads the queue now: the name holds the certificate
    os.rename(tmp_path / ".env.local", tmp_path / "x.pem")
    (tmp_path / "x.pem").read_bytes()
    watch.poll()  # judged on its own: the certificate it now names
    (tmp_path / "leak.txt").read_bytes()
    assert watch.poll()
    watch.close()


def test_a_reused_inode_number_does_not_inherit_a_public_verdict(tmp_path: Path) -> None:
    """rt7: a certificate read back (public) and deleted leaves its inode number in the watch; a
    host file saved through a temporary name may get the same number, and with it the verdict."""
    watch = _armed(tmp_path)
    (tmp_path / "c.pem").write_bytes(CERT)
    (tmp_path / "c.pem").read_bytes()
    assert not watch.poll()
    os.unlink(tmp_path / "c.pem")
    (tmp_path / "tmpabc").write_bytes(SECRET)  # the host's atomic save
    os.rename(tmp_path / "tmpabc", tmp_path / ".env.local")
    (tmp_path / ".env.local").read_bytes()
    assert watch.poll()
    watch.close()


def test_a_second_writer_of_a_judged_bundle_stops_before_it_closes(tmp_path: Path) -> None:
    """rt7: after a bundle was judged public, another writer's write is a stop at once, not only at
    its close (which may come after the command ended)."""
    watch = _armed(tmp_path)
    pem = tmp_path / "server.pem"
    pem.write_bytes(CERT)
    pem.read_bytes()
    assert not watch.poll()
    with pem.open("ab") as f:
        f.write(KEY)
        f.flush()
        assert watch.poll()


def test_the_names_a_stopped_file_was_given_stay_hidden(tmp_path: Path) -> None:
    """rt7: a command renames the host's new ``.env.local`` to ``n.txt`` and is stopped; the next
    command must not read ``n.txt`` as an ordinary file, while it is that file."""
    watch = _armed(tmp_path)
    (tmp_path / ".env.local").write_bytes(SECRET)  # the host
    os.rename(tmp_path / ".env.local", tmp_path / "n.txt")  # the command
    (tmp_path / "n.txt").read_bytes()
    assert watch.poll()
    index = _index(tmp_path)
    assert watch.prepare(index, []) == [tmp_path / "n.txt"]
    assert watch.prepare(index, []) == [tmp_path / "n.txt"]  # for as long as it is that file
    (tmp_path / "own.txt").write_bytes(b"the command's own file\n")
    os.rename(tmp_path / "own.txt", tmp_path / "n.txt")  # another file under the name: not hidden
    assert watch.prepare(index, []) == []
    watch.close()


def test_a_file_listed_before_its_creation_event_is_read_allows_its_makers_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new directory is watched, then listed; a file made in between is found by the listing and
    its creation (and its maker's open) are read from the queue after: the maker's open is its own,
    not a reader's (``python3 -m venv`` was stopped now and then on pip's ``cacert.pem``)."""
    watch = _armed(tmp_path)
    real_add = watch._add
    made: list[int] = []

    def add_then_make(d: str, *, hidden: bool = False) -> bool:
        ok = real_add(d, hidden=hidden)
        if d.endswith("/new") and not made:
            made.append(os.open(f"{d}/.env.local", os.O_CREAT | os.O_WRONLY, 0o600))  # still open
        return ok

    monkeypatch.setattr(watch, "_add", add_then_make)
    (tmp_path / "new").mkdir()
    assert not watch.poll()
    os.write(made[0], b"A=1\n")
    os.close(made[0])
    assert not watch.poll()  # its maker's one open and close
    (tmp_path / "new" / ".env.local").read_bytes()
    assert watch.poll()  # anyone else's
    watch.close()


@pytest.mark.parametrize(("content", "stops"), [(CERT + CERT, False), (CERT + KEY, True)])
def test_a_bundle_written_before_its_directory_was_watched_may_be_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, stops: bool
) -> None:
    """``mkdir -p tls && printf ... > tls/cacert.pem && sha256sum tls/cacert.pem``: the file is made,
    written and closed before the new directory's watch exists; read back, it is judged by what it
    holds (a bundle runs on, a key stops)."""
    watch = _armed(tmp_path)
    real_add = watch._add

    def make_then_add(d: str, *, hidden: bool = False) -> bool:
        if d.endswith("/tls"):
            Path(d, "cacert.pem").write_bytes(content)
        return real_add(d, hidden=hidden)

    monkeypatch.setattr(watch, "_add", make_then_add)
    (tmp_path / "tls").mkdir()
    assert not watch.poll()
    (tmp_path / "tls" / "cacert.pem").read_bytes()
    assert watch.poll() is stops
    watch.close()


def test_a_link_to_a_new_hidden_file_inside_a_new_git_directory_is_counted(tmp_path: Path) -> None:
    """Red team rt9: a directory named ``.git`` that the command makes is watched like any other;
    a hard link to the host's new ``.env.local`` inside it is another name of the same file."""
    watch = _armed(tmp_path)
    (tmp_path / "x" / ".git").mkdir(parents=True)
    assert not watch.poll()
    (tmp_path / ".env.local").write_bytes(SECRET)  # the host
    assert not watch.poll()
    os.link(tmp_path / ".env.local", tmp_path / "x" / ".git" / "e")  # the command
    assert not watch.poll()
    (tmp_path / "x" / ".git" / "e").read_bytes()
    assert watch.poll()
    watch.close()


def test_another_tree_put_at_the_root_path_is_watched(tmp_path: Path) -> None:
    """A directory above the root renamed by the host and another checkout put at the path: the
    watches follow the old tree's inodes, so the new tree's directories are watched anew and a new
    hidden file opened there while a command runs stops it (red team rt10)."""
    root = tmp_path / "work" / "repo"
    (root / "src").mkdir(parents=True)
    index = _index(root)
    watch = NewNames(root, Rules().hides, Rules.key)
    watch.prepare(index, [])
    os.rename(tmp_path / "work", tmp_path / "work-old")
    (root / "src").mkdir(parents=True)
    index.refresh()
    watch.prepare(index, [])
    watch.arm([])
    (root / "src" / "late.key").write_text("made while the command runs\n")
    (root / "src" / "late.key").read_text()  # a second open: a reader
    assert watch.poll() and watch.found == [str(root / "src" / "late.key")]
    watch.close()
