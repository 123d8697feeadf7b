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
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codeward.scratch import process_dir

if TYPE_CHECKING:
    from codeward.sandbox.spec import GitView, SandboxSpec

CHUNK = 2000  # pathspecs per ls-files call (git 2.39's ls-files cannot read them from stdin)
_lock = threading.Lock()
_dir: Path | None = None
_cache: dict[Path, tuple[tuple[int, int, int], str, Path | None]] = {}


def _private_dir() -> Path:
    global _dir
    if _dir is None or not _dir.is_dir():
        _dir = process_dir("codeward-gitview-")
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


ATTRIBUTES = "-diff"
"""What git inside the sandbox knows of every hidden path: binary, so ``git log -p``, ``git diff``,
``git show COMMIT`` and ``git grep REV`` print "Binary files differ" instead of its content."""


_SPECIAL = re.compile(r'[*?\[\]\\ \t"\x00-\x1f\x7f]')


def attribute_line(path: str) -> str:
    """One ``info/attributes`` line for the repository-relative ``path``, matched literally.

    A path ending in ``/`` is a directory and matches everything below it. Glob characters are
    escaped; a path with spaces, quotes, control characters or a leading ``#``
    or ``!`` is written C-quoted, which git reads since 2.21."""
    if not _SPECIAL.search(path):  # the usual name: nothing to escape (thousands per command)
        return f"/{path}{'**' if path.endswith('/') else ''} {ATTRIBUTES}\n"
    glob = "".join("\\" + c if c in "*?[]\\" else c for c in path)
    pattern = "/" + glob + ("**" if path.endswith("/") else "")  # a directory: everything below it
    if any(c in pattern for c in ' \t"') or any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        body = "".join(
            "\\" + c if c in '"\\' else (f"\\{ord(c):03o}" if ord(c) < 32 or ord(c) == 127 else c) for c in pattern
        )
        pattern = f'"{body}"'
    return f"{pattern} {ATTRIBUTES}\n"


def attributes_info(
    workspace: Path,
    paths: Sequence[str],
    redacted: Sequence[tuple[Path, Path]] = (),
    hidden: Sequence[Path] = (),
) -> Path | None:
    """A copy of ``workspace/.git/info`` to bind over it, whose ``attributes`` marks ``paths`` binary.

    The bind covers the mounts made for the files in it, so the copy takes a file the redacted view
    shows (``redacted``: host file, redacted copy) from its redacted copy and leaves a ``hidden``
    one out: a token in ``info/exclude`` must not come back raw through this copy.

    ``$GIT_DIR/info/attributes`` has the highest precedence of all attribute files, above any
    ``.gitattributes`` a command writes into the workspace, and ``.git`` is read-only to commands.
    The copy keeps the repository's own files (``exclude``, its ``attributes`` lines first); it is
    rebuilt when they or the path list change. None (no bind) when there is nothing to mark or no
    ``.git`` directory: a command then sees the content git prints, and only the redactor's known
    values stand between it and the model. A missing ``.git/info`` is created (empty, as ``git
    init`` makes it), since bwrap cannot create a mount point inside the read-only ``.git``.
    """
    git_dir = workspace / ".git"
    info = git_dir / "info"
    if not paths or not git_dir.is_dir() or git_dir.is_symlink() or info.is_symlink():
        return None
    try:
        info.mkdir(mode=0o755, exist_ok=True)  # git's own layout; bwrap needs a place to bind over
        entries = sorted(os.scandir(info), key=lambda e: e.name) if info.is_dir() else []
        files = [(e.name, e.stat(follow_symlinks=False)) for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        return None
    shown = {h.name: c for h, c in redacted if h.parent == info}
    gone = {h.name for h in hidden if h.parent == info}
    files = [(name, st) for name, st in files if name not in gone]
    sig = hashlib.sha256()
    for name, st in files:
        sig.update(f"{name}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
        sig.update(f"{shown.get(name, '')}\0".encode("utf-8", "surrogateescape"))
    sig.update("\0".join(sorted(paths)).encode("utf-8", "surrogateescape"))
    key = sig.hexdigest()
    out = _private_dir() / (hashlib.sha256(str(info).encode("utf-8", "surrogateescape")).hexdigest()[:16] + ".info")
    with _lock:
        hit = _info_cache.get(info)
        if hit == key and out.is_dir():
            return out
        tmp = Path(tempfile.mkdtemp(dir=_private_dir(), prefix="info-"))
        try:
            own = b""
            for name, _ in files:
                data = (shown[name] if name in shown else info / name).read_bytes()
                if name == "attributes":
                    own = data if data.endswith(b"\n") or not data else data + b"\n"
                else:
                    (tmp / name).write_bytes(data)
            lines = "".join(attribute_line(p) for p in sorted(set(paths)))
            (tmp / "attributes").write_bytes(own + lines.encode("utf-8", "surrogateescape"))
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except OSError:
            shutil.rmtree(tmp, True)
            return None
        _info_cache[info] = key
        return out


_info_cache: dict[Path, str] = {}


def git_paths(spec: SandboxSpec, hidden: Sequence[Path]) -> list[str]:
    """Every repository-relative path git inside must treat as binary: what the history holds that
    the ignore rules hide (the spec's ``git_hidden``) and what the sandbox hides in the tree now."""
    prefix = str(spec.workspace).rstrip("/") + "/"
    now = [str(p)[len(prefix) :] + ("/" if p.is_dir() and not p.is_symlink() else "") for p in hidden]
    return sorted({*spec.git_hidden, *(p for p, h in zip(now, hidden, strict=True) if str(h).startswith(prefix))})


def home_attributes(home: Path, spec: SandboxSpec, hidden: Sequence[Path]) -> None:
    """For a tier that cannot bind over ``.git/info`` (Landlock): the same lines in the command's
    private ``$HOME/.config/git/attributes``, git's default ``core.attributesFile``. It has the
    lowest precedence and a command may change it, so it only keeps an honest ``git log -p`` from
    printing hidden paths; the redactor's known values still cover the secrets."""
    paths = git_paths(spec, hidden)
    if not paths:
        return
    target = home / ".config" / "git" / "attributes"
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(attribute_line(p) for p in paths), encoding="utf-8", errors="surrogateescape")


def object_binds(spec: SandboxSpec) -> list[tuple[str, str]]:
    """Read-only binds of the spec's object-store view over ``.git/objects`` and ``.git/refs/replace``,
    and of each nested repository's and submodule's view over its own (``git_nested_views``).

    A missing ``.git/refs/replace`` is created empty on the host (git ignores an empty directory
    there) because bwrap cannot create a mount point inside the read-only ``.git``."""
    nested: list[tuple[str, str]] = []
    for n in spec.git_nested_views() if spec.git_nested_views is not None else ():
        nested.append((str(n.view.objects), str(n.store)))
        if n.replace is not None:
            nested.append((str(n.view.replace), str(n.replace)))
    view = spec.git_view() if spec.git_view is not None else None
    if view is None:
        return nested
    return _root_binds(spec, view) + nested


def git_stores(spec: SandboxSpec) -> list[Path]:
    """The names the object-store views are bound over: ``.git/objects`` of a ``.git`` directory at
    the root (whatever is there now: another session's Landlock command may have its link there)
    and each nested repository's store. A command is stopped when the host renames one of them."""
    out = []
    if spec.git_view is not None and (spec.workspace / ".git").is_dir():
        out.append(spec.workspace / ".git" / "objects")
    if spec.git_nested_views is not None:
        out += [n.store for n in spec.git_nested_views()]
    return out


def _root_binds(spec: SandboxSpec, view: GitView) -> list[tuple[str, str]]:
    objects, replace_view = view.objects, view.replace
    from codeward.gitfiles import linked_store

    git_dir = spec.workspace / ".git"
    real = linked_store(git_dir / "objects", spec.workspace)  # a linked store: bound where it lies
    if real is None:
        return []  # no store to read (a bare marker, a broken repository); .git is read-only, none can appear
    replace = git_dir / "refs" / "replace"
    if replace.is_symlink() or (git_dir / "refs").is_symlink():
        return [(str(objects), str(real))]  # objects hidden; no placeholders
    with contextlib.suppress(OSError):
        replace.mkdir(mode=0o755, exist_ok=True)
    return [(str(objects), str(real)), (str(replace_view), str(replace))]
