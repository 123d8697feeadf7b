"""The learner's walk (GNU find or Python) and its clean-file cache between processes.

Each "process" below is what ``codeward sandbox`` builds: a learner with the home's cache, a
redactor over it, and :func:`secret_paths_now` (the walk, then the sweep for known values). Which
files are read is counted by wrapping the learner's reader.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codeward.privacy import clean_cache, learn, tree_walk
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redact import Redactor
from codeward.privacy.redacted_paths import secret_paths_now
from codeward.privacy.scanner import load_scanner

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"
ENV = f"aws_secret_access_key = {SECRET}\n"
TOKEN = "ghp_" + "Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi"
ODD = [b"new\nline.txt", b"latin-\xe9\xff.txt", b"sp ace \\ and\ttab.txt"]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "settings.env").write_text(ENV)
    for i in range(6):
        (ws / "src" / f"clean{i}.py").write_text(f"x = {i}  # ordinary\n")
    return ws


def _process(ws: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], list[str]]:
    """One ``codeward sandbox``'s scan: the files it holds secret, and those it read."""
    read: list[str] = []
    real = learn._texts

    def counting(path: str, size: int):  # type: ignore[no-untyped-def]
        read.append(os.path.relpath(path, ws))
        return real(path, size)

    monkeypatch.setattr(learn, "_texts", counting)
    learner = WorkspaceSecrets(ws, load_scanner(), cache_dir=cache)
    found = secret_paths_now(Redactor(learner.scanner, learner=learner))
    monkeypatch.setattr(learn, "_texts", real)
    return {os.path.relpath(p, ws) for p in found}, sorted(read)


def test_a_later_process_reads_only_the_secret_file_and_sweeps_nothing_again(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "home" / "cache"
    held, read = _process(ws, cache, monkeypatch)
    assert held == {"settings.env"}
    assert len(read) == 7 + 6  # every file scanned, then the six clean ones swept for the value
    held, read = _process(ws, cache, monkeypatch)
    assert held == {"settings.env"}
    assert read == ["settings.env"]  # its values learned afresh; nothing else read or swept
    assert not any(SECRET.encode() in p.read_bytes() for p in cache.iterdir())


def test_a_file_changed_in_place_with_its_mtime_set_back_is_rescanned(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size, same inode, ``touch -d`` back to the old mtime: only the ctime tells."""
    cache = tmp_path / "home" / "cache"
    target = ws / "src" / "clean0.py"
    target.write_text("a" * 60 + "\n")
    _process(ws, cache, monkeypatch)
    before = os.lstat(target)
    new = f"GITHUB_TOKEN={TOKEN}\n"
    new += "#" * (61 - len(new) - 1) + "\n"
    with open(target, "r+") as f:  # in place: the inode stays
        f.write(new)
    sec, ns = divmod(before.st_mtime_ns, 1_000_000_000)
    subprocess.run(["touch", "-m", "-d", f"@{sec}.{ns:09d}", str(target)], check=True)
    after = os.lstat(target)
    # the mechanism: size, inode and mtime are what they were; a stamp without the ctime is fooled
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (before.st_size, before.st_ino, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns
    held, read = _process(ws, cache, monkeypatch)
    assert "src/clean0.py" in read
    assert held == {"settings.env", "src/clean0.py"}


def test_a_file_that_gains_an_encoded_copy_of_a_known_value_is_swept_again(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache says the sweep cleared ``clean1.py`` for the value; once the file changes that is void."""
    cache = tmp_path / "home" / "cache"
    _process(ws, cache, monkeypatch)
    (ws / "src" / "clean1.py").write_text(f"blob = '{SECRET[::-1]}'\n")  # no rule finds it reversed
    held, read = _process(ws, cache, monkeypatch)
    assert read == ["settings.env", "src/clean1.py", "src/clean1.py"]  # scanned, then swept
    assert held == {"settings.env", "src/clean1.py"}


def test_a_new_known_value_sweeps_every_file_again(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "home" / "cache"
    _process(ws, cache, monkeypatch)
    (ws / "settings.env").write_text(ENV + f"GITHUB_TOKEN={TOKEN}\n")
    held, read = _process(ws, cache, monkeypatch)
    assert read.count("src/clean2.py") == 1  # not cleared for the new value: swept
    assert held == {"settings.env"}


def _tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["altered", "foreign-key", "other-workspace", "not-private", "old-json"])
def test_a_foreign_or_altered_cache_is_ignored(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A cache that says the secret file is clean (and swept) must not be believed unless it is ours."""
    cache = tmp_path / "home" / "cache"
    learner = WorkspaceSecrets(ws, load_scanner(), cache_dir=cache)
    cache_file = learner._cache.path
    assert cache_file is not None
    learner.refresh()
    learner.wait_sweep()  # its own save comes first
    stamps = dict(learner._stamps)  # every file, the secret one included: a forged "all clean"
    key = clean_cache.cache_key(cache, create=False)
    binding = learner._cache.binding
    forged = clean_cache.Cached(stamps, stamps, frozenset())
    if how == "foreign-key":
        key = b"k" * 32
    if how == "other-workspace":
        binding = clean_cache.binding_of(tmp_path / "other", cache_file.name)
    clean_cache.save(cache_file, key, binding, forged)
    if how == "altered":
        _tamper(cache_file)
    if how == "not-private":
        cache_file.chmod(0o644)
    if how == "old-json":
        cache_file.write_text('{"version": 2, "clean": {}}')
    held, read = _process(ws, cache, monkeypatch)
    assert held == {"settings.env"}
    assert "settings.env" in read


def test_control_our_own_cache_is_believed(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control for the test above: the same forged cache, with our key and binding, hides the secret."""
    cache = tmp_path / "home" / "cache"
    learner = WorkspaceSecrets(ws, load_scanner(), cache_dir=cache)
    learner.refresh()
    learner.wait_sweep()  # its own save comes first
    assert learner._cache.path is not None
    stamps = dict(learner._stamps)
    key = clean_cache.cache_key(cache, create=False)
    clean_cache.save(learner._cache.path, key, learner._cache.binding, clean_cache.Cached(stamps, stamps, frozenset()))
    held, read = _process(ws, cache, monkeypatch)
    assert held == set() and read == []


def _odd_tree(root: Path) -> None:
    for name in ODD:
        with open(os.path.join(os.fsencode(root), name), "w") as f:
            f.write(f"GITHUB_TOKEN={TOKEN}\n")
    sub = os.path.join(os.fsencode(root), b"dir\nwith\xfe")
    os.mkdir(sub)
    with open(os.path.join(sub, b"inner.txt"), "w") as f:
        f.write("plain\n")
    os.symlink("settings.env", root / "link.env")  # listed with its target, not followed


def test_odd_file_names_are_walked_the_same_by_find_and_python(ws: Path) -> None:
    _odd_tree(ws)
    found = tree_walk.snapshot(str(ws))
    assert found == tree_walk.python_snapshot(str(ws))  # identical stamps: the cache serves both
    names = {os.fsencode(os.path.relpath(p, ws)) for p in tree_walk.files(found)}
    assert set(ODD) | {b"dir\nwith\xfe/inner.txt", b"settings.env"} <= names
    assert b"link.env" not in names
    assert tree_walk.link_target(found[str(ws / "link.env")]) == "settings.env"
    assert found[os.fsdecode(os.path.join(os.fsencode(ws), b"dir\nwith\xfe"))].startswith("d ")


def test_odd_file_names_survive_the_cache(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _odd_tree(ws)
    cache = tmp_path / "home" / "cache"
    held, _ = _process(ws, cache, monkeypatch)
    odd = {os.fsdecode(n) for n in ODD}
    assert held == {"settings.env"} | odd
    held, read = _process(ws, cache, monkeypatch)
    assert held == {"settings.env"} | odd
    assert set(read) == {"settings.env"} | odd  # the clean odd one (dir\nwith\xfe/inner.txt) is trusted


def test_without_gnu_find_the_python_walk_is_used(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "home" / "cache"
    _process(ws, cache, monkeypatch)
    monkeypatch.setattr(tree_walk, "FIND_PATHS", ())
    (ws / "src" / "clean3.py").write_text(ENV)  # a known value: nothing new to sweep for
    held, read = _process(ws, cache, monkeypatch)
    assert held == {"settings.env", "src/clean3.py"}
    assert read == ["settings.env", "src/clean3.py"]  # same stamps: the cache written after find still serves


def test_a_find_without_printf_falls_back(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A find that rejects ``-printf`` (BSD, busybox) exits non-zero: the Python walk answers."""
    fake = tmp_path / "bin" / "find"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'find: unknown primary or operator' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(tree_walk, "FIND_PATHS", (str(fake),))
    assert tree_walk.snapshot(str(ws)) == tree_walk.python_snapshot(str(ws))
    assert len(tree_walk.files(tree_walk.snapshot(str(ws)))) == 7


def test_a_find_planted_on_path_is_not_run(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace directory on the user's PATH (an activated ``.venv/bin``) is writable by commands:
    a ``find`` planted there would run on the host and could report every file unchanged."""
    bin_dir = ws / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    marker = tmp_path / "ran"
    (bin_dir / "find").write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    (bin_dir / "find").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert shutil.which("find") == str(bin_dir / "find")  # the control: a PATH lookup would run it
    assert tree_walk.snapshot(str(ws)) == tree_walk.python_snapshot(str(ws))
    assert not marker.exists()


def test_a_root_that_is_a_link_is_walked(ws: Path, tmp_path: Path) -> None:
    link = tmp_path / "link-to-ws"
    link.symlink_to(ws)
    walk = tree_walk.Walk(str(link))
    found = walk.result()
    assert walk.digest is not None  # find answered, not the fallback
    assert {os.path.relpath(p, link) for p in found} >= {"settings.env", "src/clean0.py"}
