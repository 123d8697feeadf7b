"""Write planned changes to the workspace: every file, or none of them.

This is the I/O edge of the patch package. :func:`apply_changes` works in four steps:

1. **Resolve** every path with :meth:`Workspace.resolve` (confined to the root, no symlink leading
   out) and refuse any path with a symbolic link in it *below* the root, even one pointing inside:
   writing through a link would change a file under another name than the one the user approved
   (and that ignore rules were checked against). Links are neither followed nor replaced.
2. **Verify** that every file still holds the content the plan was computed from, that files to be
   created do not exist, and that no path appears twice; otherwise PatchError "changed since".
3. **Stage** each new content in a temp file in its target directory (creating missing parent
   directories), with the old file's permission bits for updates and moves.
4. **Commit** by renames: the old file is kept as a backup (hard link, or a copy where links are not
   supported; a deleted file is renamed aside), then the temp file takes its place. New files are
   linked into place so that a file appearing meanwhile is never clobbered.

If anything fails in steps 3-4 (or the process is interrupted), every file already replaced or
deleted is restored from its backup, new files and temp files are removed and the directories
created are removed again, so the tree is as before; the error names the file that failed. Only if
that restore itself fails does the error say which files could not be restored and where their
backups are. Backups are removed once every change is in place.

Empty directories left by a Delete File are kept, as Codex does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codeward.errors import CodewardError
from codeward.patch.errors import PatchError
from codeward.patch.parser import check_path, parse_patch
from codeward.patch.plan import FileChange, Reader, plan_patch
from codeward.workspace import Workspace

_NAME_KEEP = 80  # characters of the target's name kept in temp/backup names (NAME_MAX is 255 bytes)


def read_workspace_file(workspace: Workspace, path: str) -> bytes | None:
    """The bytes of a workspace file for planning, None if absent; PatchError for anything else.

    ``path`` is workspace-relative POSIX. Refused: paths leaving the workspace, any symbolic link
    on the way, directories and other non-regular files.
    """
    target = _target(workspace, path)
    return _read_current(target, path)


def workspace_reader(workspace: Workspace) -> Reader:
    """A ``read`` function for :func:`plan_patch` over the files of ``workspace``."""

    def read(path: str) -> bytes | None:
        return read_workspace_file(workspace, path)

    return read


def apply_patch_text(text: str, workspace: Workspace, *, base: str | None = None) -> list[FileChange]:
    """Parse, plan and apply a patch in one call (no approval step); returns the changes applied.

    ``base`` is the workspace-relative directory the patch's paths are relative to; by default the
    workspace's cwd.
    """
    if base is None:
        try:
            base = workspace.rel(workspace.cwd)
        except ValueError:
            base = ""
    patch = parse_patch(text, roots=workspace_roots(workspace), base=base)
    changes = plan_patch(patch, workspace_reader(workspace), base=base)
    apply_changes(changes, workspace)
    return changes


def workspace_roots(workspace: Workspace) -> tuple[str, ...]:
    """The root as given and as resolved: absolute patch paths under either name a workspace file."""
    return tuple(dict.fromkeys((str(workspace.root), str(workspace.root.resolve()))))


@dataclass
class _Step:
    change: FileChange
    target: Path  # where the new content goes, or the file deleted
    source: Path | None  # a move's old file
    tmp: Path | None = None  # the staged new content, until it is renamed into place


@dataclass
class _Undo:
    target: Path
    backup: Path | None  # None: the target is new, undo removes it


def apply_changes(changes: Sequence[FileChange], workspace: Workspace) -> None:
    """Write ``changes`` (from :func:`plan_patch`) all-or-nothing; raise PatchError with nothing changed."""
    steps = [_prepare(change, workspace) for change in changes]
    _check_distinct(steps)
    for step in steps:
        _verify(step)
    created_dirs: list[Path] = []
    undo: list[_Undo] = []
    current = ""
    try:
        for step in steps:
            current = step.change.path
            if step.change.new is not None:
                _stage(step, workspace, created_dirs)
        for step in steps:
            current = step.change.path
            _commit(step, undo)
    except BaseException as exc:
        problems = _rollback(steps, undo, created_dirs)
        if problems:
            raise PatchError(
                f"{current}: the patch failed ({_describe(exc)}) and these files could not be restored: "
                + "; ".join(problems)
            ) from exc
        if isinstance(exc, CodewardError):
            raise
        if isinstance(exc, OSError):
            raise PatchError(f"{current}: cannot write ({_describe(exc)}); nothing was changed") from None
        raise
    for entry in undo:
        if entry.backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(entry.backup)
    _sync_dirs({s.target.parent for s in steps} | {s.source.parent for s in steps if s.source is not None})


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# --- resolve and verify -----------------------------------------------------------------------------


def _target(workspace: Workspace, rel: str) -> Path:
    """The absolute path for a workspace-relative path; PatchError if it leaves the root or crosses a link."""
    norm = check_path(rel, where=rel or "path")
    try:
        path = workspace.resolve(norm, base=workspace.root)
    except CodewardError as e:
        raise PatchError(e.message) from None
    parts = PurePosixPath(norm).parts
    cur = workspace.root
    for depth, part in enumerate(parts, 1):
        cur = cur / part
        if cur.is_symlink():
            raise PatchError(
                f"{norm}: {'/'.join(parts[:depth])} is a symbolic link; apply_patch does not write or read "
                f"through links, patch the file by its real path"
            )
    return path


def _read_current(target: Path, rel: str) -> bytes | None:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise PatchError(f"{rel}: a parent of this path is a file, not a directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise PatchError(f"{rel}: is a symbolic link; apply_patch does not write or read through links")
    if stat.S_ISDIR(st.st_mode):
        raise PatchError(f"{rel}: is a directory; apply_patch adds, updates and deletes files only")
    if not stat.S_ISREG(st.st_mode):
        raise PatchError(f"{rel}: is not a regular file; refused")
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise PatchError(f"{rel}: cannot be read ({_describe(e)})") from None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _prepare(change: FileChange, workspace: Workspace) -> _Step:
    shapes = {"add": (False, True), "delete": (True, False), "update": (True, True)}
    if change.kind not in shapes or shapes[change.kind] != (change.old is not None, change.new is not None):
        raise PatchError(f"{change.path}: inconsistent {change.kind!r} change (old/new content); refused")
    if change.old_path is not None and change.kind != "update":
        raise PatchError(f"{change.path}: only an update can move a file; refused")
    target = _target(workspace, change.path)
    source = _target(workspace, change.old_path) if change.old_path is not None else None
    if source == target:
        source = None
    return _Step(change=change, target=target, source=source)


def _check_distinct(steps: list[_Step]) -> None:
    seen: set[Path] = set()
    for step in steps:
        for p in (step.target, step.source):
            if p is None:
                continue
            if p in seen:
                raise PatchError(f"{step.change.path}: the same file appears in two changes; plan the patch again")
            seen.add(p)


def _changed(rel: str) -> PatchError:
    return PatchError(f"{rel}: the file changed since the patch was planned; nothing was changed, plan it again")


def _verify(step: _Step) -> None:
    ch = step.change
    if step.source is not None:
        if _read_current(step.source, ch.old_path or "") != ch.old:
            raise _changed(ch.old_path or "")
        if os.path.lexists(step.target):
            raise _changed(ch.path)
    elif _read_current(step.target, ch.path) != ch.old:
        raise _changed(ch.path)


# --- stage, commit, roll back -----------------------------------------------------------------------


def _sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name[:_NAME_KEEP]}.{secrets.token_hex(4)}.{tag}")


def _make_parents(directory: Path, workspace: Workspace, created: list[Path], rel: str) -> None:
    missing: list[Path] = []
    cur = directory
    while not os.path.lexists(cur) and cur != workspace.root:
        missing.append(cur)
        cur = cur.parent
    if not cur.is_dir():
        raise PatchError(f"{rel}: cannot create it, {workspace.rel(cur)} is a file, not a directory")
    for d in reversed(missing):
        os.mkdir(d)
        created.append(d)


def _stage(step: _Step, workspace: Workspace, created: list[Path]) -> None:
    ch = step.change
    assert ch.new is not None
    _make_parents(step.target.parent, workspace, created, ch.path)
    mode_from = step.source if step.source is not None else (step.target if ch.kind == "update" else None)
    mode = stat.S_IMODE(os.lstat(mode_from).st_mode) if mode_from is not None else None
    tmp = _sibling(step.target, "cw-patch")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
    step.tmp = tmp
    with os.fdopen(fd, "wb") as f:
        f.write(ch.new)
        f.flush()
        os.fsync(f.fileno())
    if mode is not None:
        os.chmod(tmp, mode)


def _place_new(tmp: Path, target: Path, rel: str) -> None:
    """Move a staged file to a path that must not exist, never replacing a file that appeared meanwhile."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _changed(rel) from None
    except OSError:  # no hard links here (some network and FAT file systems): check, then rename
        if os.path.lexists(target):
            raise _changed(rel) from None
        os.replace(tmp, target)
        return
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _backup_copy(path: Path) -> Path:
    """A backup of a file that will be replaced: a hard link to it, or a copy."""
    backup = _sibling(path, "cw-backup")
    try:
        os.link(path, backup)
    except OSError:
        try:
            shutil.copy2(path, backup, follow_symlinks=False)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(backup)  # a partial copy must not stay behind
            raise
    return backup


def _commit(step: _Step, undo: list[_Undo]) -> None:
    ch = step.change
    if ch.kind == "delete":
        backup = _sibling(step.target, "cw-backup")
        os.rename(step.target, backup)
        undo.append(_Undo(step.target, backup))
        return
    assert step.tmp is not None
    if step.source is not None or ch.kind == "add":
        _place_new(step.tmp, step.target, ch.path)
        undo.append(_Undo(step.target, None))
        step.tmp = None
        if step.source is not None:
            backup = _sibling(step.source, "cw-backup")
            os.rename(step.source, backup)
            undo.append(_Undo(step.source, backup))
        return
    backup = _backup_copy(step.target)
    undo.append(_Undo(step.target, backup))
    os.replace(step.tmp, step.target)
    step.tmp = None


def _rollback(steps: list[_Step], undo: list[_Undo], created_dirs: list[Path]) -> list[str]:
    """Undo the commits done so far, newest first; return what could not be restored."""
    problems: list[str] = []
    for entry in reversed(undo):
        try:
            if entry.backup is None:
                os.unlink(entry.target)
            elif _same_file(entry.backup, entry.target):
                # the update never replaced the target; rename() between two links to one file is
                # a silent no-op (POSIX), so drop the backup link instead
                os.unlink(entry.backup)
            else:
                os.replace(entry.backup, entry.target)
        except OSError as e:
            kept = f" (its original is kept at {entry.backup})" if entry.backup is not None else ""
            problems.append(f"{entry.target}: {_describe(e)}{kept}")
    for step in steps:
        if step.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(step.tmp)
            step.tmp = None
    for d in reversed(created_dirs):
        with contextlib.suppress(OSError):
            os.rmdir(d)
    return problems


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _sync_dirs(dirs: set[Path]) -> None:
    """Make the renames durable; best effort (some file systems cannot fsync a directory)."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    for d in dirs:
        try:
            fd = os.open(d, os.O_RDONLY | flag)
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.fsync(fd)
        os.close(fd)
