"""git inside the sandbox: an index in which the files commands cannot read are marked skip-worktree.

A tracked file the ignore rules hide is an unreadable empty file inside the sandbox, so ``git
status`` would report it changed and ``git diff`` stop with "cannot hash". The workspace's
``.git`` is read-only to commands anyway, so bwrap binds a copy of the index over ``.git/index``
in which every tracked hidden path has the skip-worktree bit: git then trusts the index for them
and reports no change, exactly what the host shows. The copy is made on the host with codeward's
safe git calls (:mod:`codeward.hostgit`) and reused until the real index or the hidden set changes,
so an unchanged repository costs one ``stat`` per command.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

CHUNK = 2000  # pathspecs per ls-files call (git 2.39's ls-files cannot read them from stdin)
_lock = threading.Lock()
_dir: Path | None = None
_cache: dict[Path, tuple[tuple[int, int, int], str, Path | None]] = {}


def _private_dir() -> Path:
    global _dir
    if _dir is None or not _dir.is_dir():
        _dir = Path(tempfile.mkdtemp(prefix="codeward-gitview-"))
        atexit.register(shutil.rmtree, _dir, True)
    return _dir


def _git(
    args: Sequence[str], cwd: Path, *, env: dict[str, str] | None = None, data: bytes | None = None
) -> bytes | None:
    from codeward.hostgit import git_command

    argv, full = git_command(args, cwd, drivers=False, env=env)
    try:
        p = subprocess.run(argv, cwd=cwd, env=full, input=data, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def masked_index(workspace: Path, hidden: Sequence[Path]) -> Path | None:
    """The index copy to bind over ``workspace/.git/index``, or None when no tracked file is hidden.

    Only the workspace's own repository (a ``.git`` directory at its root) is handled; on any
    failure the real index is used, which only means git inside shows the hidden files as changed.
    """
    index = workspace / ".git" / "index"
    try:
        st = index.lstat()
    except OSError:
        return None
    prefix = str(workspace).rstrip("/") + "/"
    inside = sorted(str(p)[len(prefix) :] for p in hidden if str(p).startswith(prefix))
    if not inside or not (workspace / ".git").is_dir() or (workspace / ".git").is_symlink():
        return None
    sig = (st.st_ino, st.st_size, st.st_mtime_ns)
    key = hashlib.sha256("\0".join(inside).encode("utf-8", "surrogateescape")).hexdigest()
    with _lock:
        hit = _cache.get(index)
        if hit is not None and hit[0] == sig and hit[1] == key and (hit[2] is None or hit[2].exists()):
            return hit[2]
        result = _build(workspace, index, inside)
        _cache[index] = (sig, key, result)
        return result


def _build(workspace: Path, index: Path, inside: Sequence[str]) -> Path | None:
    literal = {"GIT_LITERAL_PATHSPECS": "1"}
    tracked = b""
    for i in range(0, len(inside), CHUNK):
        got = _git(["ls-files", "-z", "--", *inside[i : i + CHUNK]], workspace, env=literal)
        if got is None:
            return None
        tracked += got
    if not tracked:
        return None
    out = _private_dir() / (hashlib.sha256(str(index).encode()).hexdigest()[:16] + ".index")
    tmp = out.with_suffix(".tmp")
    try:
        shutil.copyfile(index, tmp)
    except OSError:
        return None
    ok = _git(
        ["update-index", "-z", "--skip-worktree", "--stdin"], workspace, env={"GIT_INDEX_FILE": str(tmp)}, data=tracked
    )
    if ok is None:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return None
    os.replace(tmp, out)
    return out
