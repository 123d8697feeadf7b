"""Names, link targets and attributes on the find-based walk and its clean-file cache.

The walk lists every entry in one ``find`` process (:mod:`codeward.privacy.tree_walk`); the clean
cache vouches for an entry's name, link target and ``user.*`` attributes as well as a file's
contents. A later process must read attributes only of what the cache does not vouch for, yet find
a secret name again, an attribute set since (it moves the ctime), and a known value in the
attributes of a vouched entry when it sweeps for a value it never swept for. A cache of the format
before names were scanned must not be trusted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeward.privacy import clean_cache, names, tree_walk
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redact import Redactor
from codeward.privacy.redacted_paths import secret_paths_now
from codeward.privacy.scanner import load_scanner

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
PLAIN_VALUE = "riverbankmoonlight42"
"""A value no rule finds on its own (it is known from a ``.env`` or the configuration)."""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / TOK).write_text("nothing secret inside\n")  # a token used as a file name
    (ws / "lib").mkdir()
    for i in range(5):
        (ws / "lib" / f"m{i}.py").write_text(f"x = {i}\n")
    os.setxattr(ws / "lib" / "m0.py", "user.xdg.origin.url", b"https://example.com/m0.py")
    os.symlink("lib/m1.py", ws / "current")
    return ws


@pytest.fixture
def xattr_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The entries whose attributes are read (the learner imports ``xattr_text`` at each use)."""
    seen: list[str] = []
    real = names.xattr_text

    def counting(path: str) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(names, "xattr_text", counting)
    yield seen


def _process(ws: Path, cache: Path) -> WorkspaceSecrets:
    """One ``codeward sandbox``'s scan with its sweep, as the CLI runs it."""
    learner = WorkspaceSecrets(ws, load_scanner(), cache_dir=cache)
    secret_paths_now(Redactor(learner.scanner, learner=learner))
    learner.wait_sweep()
    return learner


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("learn-*.bin"))


def test_a_later_process_reads_attributes_only_of_what_the_cache_does_not_vouch_for(
    ws: Path, tmp_path: Path, xattr_reads: list[str]
) -> None:
    cache = tmp_path / "home" / "cache"
    first = _process(ws, cache)
    assert first.hidden_entries() == {str(ws / "sub")}
    every = set(tree_walk.snapshot(str(ws)))
    assert set(xattr_reads) == every  # no cache yet: every entry (the root included)
    xattr_reads.clear()
    again = _process(ws, cache)
    assert again.hidden_entries() == {str(ws / "sub")}  # the secret name is found again...
    assert set(xattr_reads) == {str(ws / "sub" / TOK)}  # ...because only that entry is left unvouched
    assert any(TOK in v for v in again._swept)


def test_an_attribute_set_since_the_cache_was_written_is_found(
    ws: Path, tmp_path: Path, xattr_reads: list[str]
) -> None:
    cache = tmp_path / "home" / "cache"
    _process(ws, cache)
    target = ws / "lib" / "m2.py"
    before = tree_walk.snapshot(str(ws))[str(target)]
    os.setxattr(target, "user.token", f"GITHUB_TOKEN={TOK[:-1]}Z".encode())
    assert tree_walk.snapshot(str(ws))[str(target)] != before  # the mechanism: the ctime moved
    xattr_reads.clear()
    again = _process(ws, cache)
    assert str(target) in xattr_reads
    assert again.hidden_entries() == {str(ws / "sub"), str(target)}


def test_the_sweep_reads_attributes_of_vouched_entries_for_a_new_value(
    ws: Path, tmp_path: Path, xattr_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache vouched for ``lib/m3.py`` (its attribute holds nothing a rule finds), so the walk
    does not read it; a value swept for the first time must still be looked for there, and in
    names, without a second listing of the tree."""
    cache = tmp_path / "home" / "cache"
    os.setxattr(ws / "lib" / "m3.py", "user.note", f"db {PLAIN_VALUE}".encode())
    (ws / "lib" / f"{PLAIN_VALUE}.bak").write_text("x\n")
    assert _process(ws, cache).hidden_entries() == {str(ws / "sub")}
    xattr_reads.clear()
    learner = WorkspaceSecrets(ws, load_scanner(), cache_dir=cache)
    learner.refresh()
    learner.wait_sweep()
    assert str(ws / "lib" / "m3.py") not in xattr_reads  # vouched: not read by the walk
    walks: list[str] = []
    real_init = tree_walk.Walk.__init__

    def counting_init(self: tree_walk.Walk, root: str) -> None:
        walks.append(root)
        real_init(self, root)

    monkeypatch.setattr(tree_walk.Walk, "__init__", counting_init)
    xattr_reads.clear()
    learner.sweep([(PLAIN_VALUE, "test")])
    assert str(ws / "lib" / "m3.py") in xattr_reads
    assert walks == []  # names came from the walk already made
    assert learner.hidden_entries() == {str(ws / "sub"), str(ws / "lib"), str(ws / "lib" / "m3.py")}


@pytest.mark.parametrize("magic", [b"codeward-learn-cache 3\n", clean_cache.MAGIC])
def test_a_cache_from_before_names_were_scanned_is_not_trusted(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, magic: bytes
) -> None:
    """A format-3 file recorded entries clean whose names were never read: one vouching for the
    token-named file must not hide it. The control: the same record in the current format is
    trusted, and then the name is not read again (the cache is what decides)."""
    cache = tmp_path / "home" / "cache"
    first = _process(ws, cache)
    (path,) = _cache_files(cache)
    key = clean_cache.cache_key(cache, create=False)
    everything = tree_walk.snapshot(str(ws))
    monkeypatch.setattr(clean_cache, "MAGIC", magic)
    clean_cache.save(path, key, first._cache.binding, clean_cache.Cached(everything))
    monkeypatch.undo()
    learner = WorkspaceSecrets(ws, load_scanner(), cache_dir=cache)
    learner.refresh()
    if magic == clean_cache.MAGIC:
        assert learner.hidden_entries() == set()
    else:
        assert learner.hidden_entries() == {str(ws / "sub")}


def test_the_walk_lists_names_and_link_targets_the_same_with_find_and_python(ws: Path) -> None:
    found = tree_walk.snapshot(str(ws))
    assert found == tree_walk.python_snapshot(str(ws))
    assert tree_walk.link_target(found[str(ws / "current")]) == "lib/m1.py"
    assert found[str(ws)].startswith("d ") and found[str(ws / "sub")].startswith("d ")
    assert set(tree_walk.files(found)) == {str(ws / "sub" / TOK)} | {str(ws / "lib" / f"m{i}.py") for i in range(5)}


@pytest.mark.parametrize("gnu_find", [True, False])
def test_names_and_link_targets_are_found_with_either_walk(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gnu_find: bool
) -> None:
    if not gnu_find:
        monkeypatch.setattr(tree_walk, "FIND_PATHS", ())
    os.symlink(f"../{TOK[:-1]}Y", ws / "lib" / "current")
    (ws / f"top-{TOK[:-2]}QQ").mkdir()
    walk = tree_walk.Walk(str(ws))
    walk.result()
    assert (walk.digest is not None) == gnu_find  # the walk asked for answered
    learner = WorkspaceSecrets(ws, load_scanner())
    learner.refresh()
    assert learner.hidden_entries() == {str(ws), str(ws / "sub"), str(ws / "lib")}
