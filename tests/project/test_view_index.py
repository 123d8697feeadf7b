"""The sandbox's view is kept by a directory index, in the process and across processes: every change
is seen by the next spec, and a saved index that is stale, corrupt, foreign or planted cannot un-hide
a path.

Each change is checked twice: with the index the process already holds (the next command of a
session) and with only the saved file to start from (the next ``codeward sandbox`` process).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import types
from pathlib import Path

import pytest

from codeward import dirindex
from codeward.dirindex import store
from codeward.project import open_project
from codeward.sandbox.spec import SandboxSpec
from codeward.workspace import WATCHED_NAMES


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "AGENTS.md").write_text("# rules\n")
    (root / ".codexignore").write_text("config/production.yml\n")
    (root / "config").mkdir()
    (root / "config" / "production.yml").write_text("db: secret\n")
    deep = root / "src" / "a" / "b" / "c"
    deep.mkdir(parents=True)
    for i in range(5):
        (root / "src" / f"m{i}.py").write_text("x = 1\n")
        (deep / f"f{i}.py").write_text("x = 1\n")
    (deep / "old.key").write_text("k\n")
    (deep / "notes.txt").write_text("n\n")
    (root / "data.csv").write_text("a,b\n")
    time.sleep(dirindex.RACY_NS / 1e9 * 1.5)  # listed after this, nothing is racy: the signatures decide
    return root.resolve()


def new_process(root: Path) -> None:
    """What a new process has: no index in memory, only the saved file."""
    dirindex.forget(root)


def spec(root: Path) -> SandboxSpec:
    return open_project(root).sandbox_spec()


def tick() -> None:
    time.sleep(0.02)  # the change lands on a later clock tick than the listing


@pytest.fixture(params=["same process", "new process", "watched session"])
def next_spec(request: pytest.FixtureRequest, repo: Path):  # type: ignore[no-untyped-def]
    """The next spec after a change: in the same process, in a new one (the saved index), and in a
    session whose index is kept by its inotify watch (:mod:`codeward.dirindex.watch`: a refresh the
    watch calls quiet walks nothing)."""
    first = spec(repo)
    if request.param == "watched session":
        for _ in range(dirindex.WATCH_AFTER + 1):
            spec(repo)
        index = dirindex.index_for(repo, WATCHED_NAMES)
        # trusted wherever inotify sees every change (not on overlayfs, a container's /tmp)
        assert index.watch is not None
        assert index.watch.quiet() == dirindex.watchable_device(os.stat(repo).st_dev)
    assert repo / "src/a/b/c/old.key" in first.masked  # the index saw the tree
    assert repo / "config/production.yml" in first.masked

    def again() -> SandboxSpec:
        if request.param == "new process":
            new_process(repo)
        return spec(repo)

    return again


def test_a_new_ignored_file_deep_down_is_masked(repo: Path, next_spec) -> None:  # type: ignore[no-untyped-def]
    tick()
    (repo / "src/a/b/c/new.key").write_text("k\n")
    (repo / "src/a/b/.env").write_text("K=v\n")
    masked = next_spec().masked
    assert repo / "src/a/b/c/new.key" in masked and repo / "src/a/b/.env" in masked


def test_renaming_an_ancestor_moves_the_mask_with_it(repo: Path, next_spec) -> None:  # type: ignore[no-untyped-def]
    tick()
    (repo / "src" / "a").rename(repo / "src" / "z")
    (repo / "config").rename(repo / "cfg")
    masked = set(next_spec().masked)
    assert repo / "src/z/b/c/old.key" in masked
    assert repo / "src/a/b/c/old.key" not in masked
    # nothing is masked under a name that is gone (what moved is judged by the rules where it is now)
    assert not any(str(p).startswith(str(repo / "config")) for p in masked)


def test_a_new_nested_ignore_file_applies(repo: Path, next_spec) -> None:  # type: ignore[no-untyped-def]
    tick()
    (repo / "src/a/b/.codexignore").write_text("*.txt\n")
    s = next_spec()
    assert repo / "src/a/b/c/notes.txt" in s.masked
    assert repo / "src/a/b/.codexignore" in s.protected


def test_a_new_agents_file_is_protected(repo: Path, next_spec) -> None:  # type: ignore[no-untyped-def]
    tick()
    (repo / "src/a/b/c/AGENTS.md").write_text("more rules\n")
    (repo / "src/a/.gitmodules").write_text("")
    s = next_spec()
    assert repo / "src/a/b/c/AGENTS.md" in s.protected and repo / "src/a/.gitmodules" in s.protected


def test_an_edited_rules_file_applies(repo: Path, next_spec) -> None:  # type: ignore[no-untyped-def]
    tick()
    dir_ctime = (repo).stat().st_ctime_ns
    with open(repo / ".codexignore", "a") as f:  # in place: no directory's signature changes
        f.write("*.csv\n")
    assert repo.stat().st_ctime_ns == dir_ctime
    assert repo / "data.csv" in next_spec().masked


def test_agents_disallow_directories_and_the_global_ignore_apply(repo: Path, next_spec, cw_home: Path) -> None:  # type: ignore[no-untyped-def]
    tick()
    with open(repo / "AGENTS.md", "a") as f:
        f.write("disallow_directories:\n- src/a/b/\n")
    (cw_home / "ignore").write_text("m3.py\n")
    masked = next_spec().masked
    assert repo / "src/a/b" in masked and repo / "src/m3.py" in masked


@pytest.fixture
def same_tick(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clock that does not move on for one directory: its ctime stays at the first one seen, and
    it is listed in that same tick. Returns the directory."""
    target = str(repo / "src/a/b/c")
    first: dict[str, int] = {}

    def lstat(p: str) -> object:
        st = os.lstat(p)
        if p != target:
            return st
        ctime = first.setdefault(p, st.st_ctime_ns)
        return types.SimpleNamespace(st_mode=st.st_mode, st_dev=st.st_dev, st_ino=st.st_ino, st_ctime_ns=ctime)

    real_scan = dirindex._scan

    def scan(d: str, sig: tuple[int, int, int], *a: object) -> dirindex.Dir:
        if d == target:
            monkeypatch.setattr(dirindex, "_now", lambda: sig[2])
        try:
            return real_scan(d, sig, *a)  # type: ignore[arg-type]
        finally:
            monkeypatch.setattr(dirindex, "_now", time.time_ns)

    monkeypatch.setattr(dirindex, "_lstat", lstat)
    monkeypatch.setattr(dirindex, "_scan", scan)
    return Path(target)


def test_a_same_tick_change_is_seen(repo: Path, same_tick: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change in the same clock tick as the listing leaves the signature as it was: the entry was
    recorded as racy and is listed again."""
    spec(repo)
    tick()
    (same_tick / "same.key").write_text("k\n")
    assert os.lstat(same_tick).st_ctime_ns != dirindex._lstat(str(same_tick)).st_ctime_ns  # the sig hides it
    assert same_tick / "same.key" in spec(repo).masked
    # control: without the racy re-list the same change is missed
    monkeypatch.setattr(dirindex, "RACY_NS", 0)
    spec(repo)
    tick()
    (same_tick / "same2.key").write_text("k\n")
    assert same_tick / "same2.key" not in spec(repo).masked


def test_on_an_untrusted_file_system_every_directory_is_listed_again(
    repo: Path, same_tick: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where ctime proves nothing (NFS, FUSE), the signature is not trusted: the change the control
    above misses is seen."""
    monkeypatch.setattr(dirindex, "RACY_NS", 0)
    monkeypatch.setattr(dirindex, "_trusted", {})
    monkeypatch.setattr(dirindex, "_fs_type", lambda dev: "nfs")
    spec(repo)
    tick()
    (same_tick / "same.key").write_text("k\n")
    assert same_tick / "same.key" in spec(repo).masked


def test_a_directory_that_cannot_be_reached_is_reported(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory that cannot be ``lstat``ed (a parent without search permission, played here so it
    holds for root too) is unknown inside: reported unreadable, so the sandbox hides it whole."""
    from codeward.workspace import dir_index

    spec(repo)
    target = str(repo / "src/a/b")

    def lstat(p: str) -> os.stat_result:
        if p == target:
            raise PermissionError(13, "Permission denied", p)
        return os.lstat(p)

    monkeypatch.setattr(dirindex, "_lstat", lstat)
    spec(repo)
    assert dir_index(repo).unreadable() == [Path(target)]


# -- the saved index -------------------------------------------------------------------------


def saved(cw_home: Path, root: Path) -> Path:
    return store.cache_file(root, cw_home / "cache")


def test_the_saved_index_is_used_private_and_lists_nothing_unchanged(
    repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec(repo)
    f = saved(cw_home, repo)
    assert f.stat().st_mode & 0o777 == 0o600 and (cw_home / "cache" / store.KEY_FILE).stat().st_mode & 0o777 == 0o600
    new_process(repo)
    listed: list[str] = []
    real = dirindex._scan
    monkeypatch.setattr(dirindex, "_scan", lambda d, *a: listed.append(d) or real(d, *a))
    s = spec(repo)
    assert listed == []  # started from the saved index: no directory listed again
    assert repo / "src/a/b/c/old.key" in s.masked
    tick()
    (repo / "src/a/b/c/new.key").write_text("k\n")
    new_process(repo)
    assert repo / "src/a/b/c/new.key" in spec(repo).masked
    assert set(listed) == {str(repo / "src/a/b/c")}  # only the changed directory (racy: maybe twice)


def _forge(f: Path) -> bytes:
    """The saved index with every hidden list emptied: a cache claiming nothing is ignored."""
    _, _, body = f.read_bytes().partition(b"\n")
    doc = json.loads(body)
    for v in doc["dirs"].values():
        v[7] = [[], []]
    return json.dumps(doc, separators=(",", ":")).encode()


@pytest.mark.parametrize("how", ["edited", "corrupt", "symlink", "loose mode"])
def test_a_planted_or_broken_cache_cannot_unhide(repo: Path, cw_home: Path, how: str) -> None:
    spec(repo)
    f = saved(cw_home, repo)
    body = _forge(f)
    if how == "edited":
        f.write_bytes(f.read_bytes().partition(b"\n")[0] + b"\n" + body)  # the old MAC, new claims
    elif how == "corrupt":
        f.write_bytes(f.read_bytes()[:-40])
    else:
        import hashlib
        import hmac

        key = (cw_home / "cache" / store.KEY_FILE).read_bytes()
        signed = hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body
        if how == "symlink":
            elsewhere = cw_home / "elsewhere.json"
            elsewhere.write_bytes(signed)
            os.chmod(elsewhere, 0o600)
            f.unlink()
            f.symlink_to(elsewhere)
        else:
            f.write_bytes(signed)
            os.chmod(f, 0o644)
    new_process(repo)
    masked = spec(repo).masked
    assert repo / "src/a/b/c/old.key" in masked and repo / "config/production.yml" in masked


def test_control_a_forged_cache_under_the_real_key_is_what_the_mac_stops(repo: Path, cw_home: Path) -> None:
    """The forgery above does un-hide when it carries a valid MAC: the MAC is what rejects it."""
    import hashlib
    import hmac

    spec(repo)
    f = saved(cw_home, repo)
    body = _forge(f)
    key = (cw_home / "cache" / store.KEY_FILE).read_bytes()
    f.write_bytes(hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body)
    new_process(repo)
    assert repo / "src/a/b/c/old.key" not in spec(repo).masked


def test_a_foreign_cache_is_ignored(tmp_path: Path, repo: Path, cw_home: Path) -> None:
    """Another workspace's saved index, put where this one's belongs, is not this workspace's."""
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    (other / "ok.py").write_text("x\n")
    time.sleep(dirindex.RACY_NS / 1e9 * 1.5)
    spec(other.resolve())
    saved(cw_home, repo).write_bytes(saved(cw_home, other.resolve()).read_bytes())
    os.chmod(saved(cw_home, repo), 0o600)
    new_process(repo)
    assert store.load(repo, WATCHED_NAMES, cw_home / "cache") is None
    new_process(repo)
    assert repo / "src/a/b/c/old.key" in spec(repo).masked


def test_an_unreadable_home_cache_only_costs_time(repo: Path, cw_home: Path) -> None:
    (cw_home / "cache").write_text("not a directory\n")
    assert repo / "src/a/b/c/old.key" in spec(repo).masked
    new_process(repo)
    assert repo / "src/a/b/c/old.key" in spec(repo).masked


def test_in_a_session_an_unchanged_tree_is_not_listed_or_decided_again(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = open_project(repo)
    first = project.sandbox_spec()
    listed: list[str] = []
    decided: list[int] = []
    real_scan, real_hidden = dirindex._scan, dirindex.DirIndex.hidden_paths
    monkeypatch.setattr(dirindex, "_scan", lambda d, *a: listed.append(d) or real_scan(d, *a))
    monkeypatch.setattr(dirindex.DirIndex, "hidden_paths", lambda self: decided.append(1) or real_hidden(self))
    again = project.sandbox_spec()
    assert (listed, decided) == ([], []) and again.masked == first.masked
    tick()
    (repo / "src/a/b/c/new.key").write_text("k\n")
    assert repo / "src/a/b/c/new.key" in project.sandbox_spec().masked
    assert set(listed) == {str(repo / "src/a/b/c")} and decided == [1]


def test_a_name_that_is_not_utf8_survives_the_saved_index(repo: Path) -> None:
    odd = os.fsdecode(os.fsencode(repo / "src") + b"/key\xff.key")
    Path(odd).write_text("k\n")
    assert Path(odd) in spec(repo).masked
    new_process(repo)
    assert Path(odd) in spec(repo).masked


def test_a_cache_with_the_wrong_shape_is_ignored(repo: Path, cw_home: Path) -> None:
    """Even under a valid MAC (say, an older codeward's layout), a body that is not this format starts cold."""
    import hashlib
    import hmac

    spec(repo)
    f = saved(cw_home, repo)
    _, _, body = f.read_bytes().partition(b"\n")
    doc = json.loads(body)
    doc["dirs"] = [1, 2, 3]
    forged = json.dumps(doc).encode()
    key = (cw_home / "cache" / store.KEY_FILE).read_bytes()
    f.write_bytes(hmac.new(key, forged, hashlib.sha256).hexdigest().encode() + b"\n" + forged)
    assert store.load(repo, WATCHED_NAMES, cw_home / "cache") is None
    new_process(repo)
    assert repo / "src/a/b/c/old.key" in spec(repo).masked


def test_the_home_and_its_key_exist_before_the_first_view(repo: Path, cw_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A run with no codeward home yet creates it (0700) with the index key before the view is
    computed: what does not exist cannot be hidden, and a key made after the first command's view
    was computed would be readable by that command."""
    missing = cw_home.parent / "not-yet"
    monkeypatch.setenv("CODEWARD_HOME", str(missing))
    assert repo / "src/a/b/c/old.key" in spec(repo).masked
    assert missing.is_dir() and stat.S_IMODE(missing.stat().st_mode) == 0o700
    key = missing / "cache" / store.KEY_FILE
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((missing / "cache").stat().st_mode) == 0o700


def test_a_home_that_cannot_be_created_stays_reserved(repo: Path, cw_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Where the home cannot be made (a read-only parent), its path is protected: a command that
    creates it finds it moved aside, so no run trusts what a command put there."""
    import codeward.home

    inside = repo / ".cwhome"
    monkeypatch.setenv("CODEWARD_HOME", str(inside))

    def refuse(path: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(codeward.home, "ensure_private_dir", refuse)
    s = spec(repo)
    assert not inside.exists() and inside in s.protected
