"""The redacted view: a command reads files that hold secrets as the model would see them.

The gate redacts what goes out, but a command can transform a value first (``cut -c`` slices,
zero-width interleaving, shift-by-one, zlib+base85, homoglyphs) into a form no text matching
follows. So before a command runs, every workspace file in which the scanner finds a secret is
replaced, for that command only, by a copy holding the gate's placeholders (DESIGN principle 5):
what a command can read is what the model may see.

This module only writes the copies; what counts as a secret and how it is redacted are given by
the caller (the session's learner and gate, or ``codeward sandbox``'s project scanner), since the
sandbox reads no privacy rules. Each tier shows the copies its own way:

* bubblewrap binds each copy read-only over its file (a write fails with ``EROFS``; the host file
  is untouched, and the mount point and its ancestors cannot be renamed);
* Landlock puts the copy in the file's place while the real file is held out of the tree
  (:mod:`codeward.sandbox.hold`), and takes it away by identity afterwards; a command's change to
  the copy is discarded and said so.

Copies live in a fresh directory per command, ``<codeward home>/run/view-PID-RANDOM`` (0700, the
home is hidden from commands in every tier), written with ``O_CREAT|O_EXCL|O_NOFOLLOW`` so nothing
planted at a name can be followed, and removed when the command ends. A text file that cannot be
read, is too large or whose redaction fails is hidden instead (fail closed), and so is a binary
file the caller names (its strings held a secret: a redacted binary is meaningless). Text in UTF-16
or UTF-32 is redacted and written back in its own encoding.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from codeward.sandbox.spec import SandboxSpec, is_within
from codeward.scratch import process_dir, sweep
from codeward.textenc import decode, detect, encode, printable_strings

MAX_COPY_BYTES = 8 << 20  # the learner scans no more than this; a larger file is hidden
VIEW_PREFIX = "view-"

Redact = Callable[[str, str], str]
"""``redact(text, workspace-relative path)``: the text with every secret replaced by its placeholder."""


class ViewError(Exception):
    """A file could not be shown redacted; it is hidden instead."""


class BinaryFile(ViewError):
    """A binary file: no redacted copy can be made of it, so it is hidden."""


@dataclass
class ViewPlan:
    """The copies made for one command, the files hidden because no copy could be made, and where."""

    directory: Path | None
    redacted: tuple[tuple[Path, Path], ...] = ()
    hidden: tuple[Path, ...] = ()

    def apply(self, spec: SandboxSpec) -> SandboxSpec:
        """``spec`` with the copies to show and the unredactable files added to its hidden paths."""
        masked = (*spec.masked, *(h for h in self.hidden if h not in spec.masked))
        return replace(spec, redacted=self.redacted, masked=masked)

    def remove(self) -> None:
        """Delete this command's copy directory (it holds placeholders only, never a value)."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def run_dir(home: Path) -> Path:
    """``<home>/run``: private to this user (0700), re-checked each time since a command never sees it."""
    d = home / "run"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        d.mkdir(mode=0o700)
    st = d.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise ViewError(f"{d} is not a private directory of this user (mode 0700); remove it and retry")
    return d


def read_regular(host: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of regular file ``host``, opened without following a link at its name (at most
    :data:`MAX_COPY_BYTES`; :class:`ViewError` otherwise). Also reads the Landlock tier's view files."""
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise ViewError(f"cannot open ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ViewError("not a regular file")
        if st.st_size > MAX_COPY_BYTES:
            # named because its strings held a secret (a binary) or it was too large to scan (text)
            raise ViewError(f"larger than {MAX_COPY_BYTES >> 20} MiB")
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_COPY_BYTES:
                raise ViewError(f"larger than {MAX_COPY_BYTES >> 20} MiB")
        return b"".join(chunks), st
    finally:
        os.close(fd)


def write_copy(
    dirfd: int,
    name: str,
    data: bytes,
    mode: int,
    owner: tuple[int, int] | None = None,
    times_ns: tuple[int, int] | None = None,
) -> os.stat_result:
    """Create ``name`` in the directory ``dirfd`` (never an existing entry, never through a link).

    ``owner`` (uid, gid), given when codeward runs as root, makes the copy the original's: a
    Landlock command runs as the workspace's owner and must read a 0600 file it owns. ``times_ns``
    (atime, mtime) are the original's, so ``make`` and ``ls -l`` see the file as it is."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if owner is not None and os.geteuid() == 0:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode & 0o755)  # runs like the original (a script stays executable); no set-id bits
        if times_ns is not None:
            os.utime(fd, ns=times_ns)
        return os.fstat(fd)
    finally:
        os.close(fd)


def redacted_bytes(host: Path, rel: str, redact: Redact) -> tuple[bytes, os.stat_result]:
    """The file's text with its secrets replaced, and its ``fstat``; :class:`ViewError` if it cannot be."""
    data, st = read_regular(host)
    codec = detect(data)
    if codec is None:
        raise BinaryFile("binary")
    text = decode(data, codec)
    try:
        shown = redact(text, rel)
    except Exception as e:  # a scanner failure: never show the raw text
        raise ViewError(f"redaction failed ({type(e).__name__})") from None
    out = encode(shown, codec)
    if codec != "utf-8":
        # UTF-16/32 text decoded as a whole can still carry plain ASCII bytes (a secret appended
        # raw reads as CJK characters there): those strings must have nothing left to redact either
        plain = "\n".join(printable_strings(out))
        try:
            clean = redact(plain, rel) == plain
        except Exception as e:
            raise ViewError(f"redaction failed ({type(e).__name__})") from None
        if not clean:
            raise ViewError("holds text in two encodings")
    return out, st


def prepare(
    home: Path,
    workspace: Path,
    secret_paths: Iterable[str | Path],
    redact: Redact,
    *,
    hidden: Iterable[Path] = (),
) -> ViewPlan:
    """Write a redacted copy of each file in ``secret_paths`` that lies in ``workspace``.

    ``hidden`` paths (the spec's masked ones) are skipped: a command cannot read them at all.
    Files that cannot be redacted go to :attr:`ViewPlan.hidden`. Raises :class:`ViewError` only
    when the copy directory itself cannot be made; the caller must then not run the command.
    """
    from codeward.sandbox.hold import has_ancestor_in

    masked = {str(m): m for m in hidden}  # by ancestor lookup: thousands of ignored files cost milliseconds
    todo: list[Path] = []
    for raw in sorted({str(p) for p in secret_paths}):
        p = Path(raw)
        if p == workspace:
            # a name, link target or attribute in the workspace root holds a secret: only the root
            # itself could hide it from a listing (codeward.privacy.names)
            raise ViewError(
                "a file name, symlink target or extended attribute at the workspace root holds a secret; "
                "rename or remove that entry"
            )
        if not p.is_absolute() or not is_within(p, workspace):
            continue
        if raw not in masked and not has_ancestor_in(raw, masked):
            todo.append(p)
    if not todo:
        if (home / "run").is_dir():
            sweep(VIEW_PREFIX, home / "run")  # copies of codeward processes that are gone (a kill -9)
        return ViewPlan(None)
    try:
        directory = process_dir(VIEW_PREFIX, run_dir(home))
    except OSError as e:
        raise ViewError(f"cannot make a private directory under {home}/run: {e.strerror or e}") from None
    plan = ViewPlan(directory)
    pairs: list[tuple[Path, Path]] = []
    gone: list[Path] = []
    gone_set: dict[str, Path] = {}
    dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for i, host in enumerate(todo):
            if gone and has_ancestor_in(str(host), gone_set):
                continue  # inside a directory hidden whole (a name in it holds a secret)
            try:
                data, st = redacted_bytes(host, host.relative_to(workspace).as_posix(), redact)
                name = str(i)
                times = (st.st_atime_ns, st.st_mtime_ns)
                write_copy(dirfd, name, data, stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid), times)
                pairs.append((host, directory / name))
            except ViewError:  # BinaryFile included: a binary holding a secret is hidden
                if os.path.lexists(host):
                    gone.append(host)
                    gone_set[str(host)] = host
            except OSError:
                gone.append(host)
                gone_set[str(host)] = host
    except BaseException:
        plan.remove()
        raise
    finally:
        os.close(dirfd)
    plan.redacted = tuple(pairs)
    plan.hidden = tuple(gone)
    return plan


@contextlib.contextmanager
def scan_lock(workspace: Path) -> Iterator[None]:
    """A shared lock on the workspace while it is scanned and copied.

    A Landlock command of another session holds the workspace exclusively while its redacted copies
    stand in place of the files (:mod:`codeward.sandbox.hold`); a scan then would find no secret in
    them and this command, run after the files are back, would read them raw. Best effort: where
    the filesystem has no ``flock`` the scan goes ahead (Landlock's own hold then fails anyway).
    """
    from codeward.sandbox.hold import shared

    with shared(workspace):
        yield


@contextlib.contextmanager
def view_for(
    spec: SandboxSpec, home: Path, secret_paths: Callable[[], Iterable[str | Path]], redact: Redact
) -> Iterator[SandboxSpec]:
    """``spec`` showing the files ``secret_paths()`` names redacted for the block; copies removed after.

    ``secret_paths`` (the learner's refresh) and the copies run under :func:`scan_lock`, released
    before the block: the command itself may take the workspace lock (Landlock).
    """
    with scan_lock(spec.workspace):
        plan = prepare(home, spec.workspace, secret_paths(), redact, hidden=spec.masked)
    try:
        yield plan.apply(spec)
    finally:
        plan.remove()


@dataclass(frozen=True)
class Placed:
    """A redacted copy the Landlock tier put at its file's name: where, its identity and its bytes."""

    host: Path
    dev: int
    ino: int
    data: bytes


def place_copies(pairs: Iterable[tuple[Path, Path]], held: Iterable[Path]) -> list[Placed]:
    """Put each copy at the name of its file, which :mod:`codeward.sandbox.hold` moved away.

    Only files that are held get a copy (one the hold could not move stays hidden by Landlock
    rules). The parent is reached without following links and the name created ``O_EXCL``: a
    command has not started yet, but a name re-created meanwhile is left alone, not overwritten.
    """
    from codeward.sandbox.hold import open_dir_nofollow

    held_set = set(held)
    out: list[Placed] = []
    for host, copy in pairs:
        if host not in held_set:
            continue
        try:
            data, st_copy = read_regular(copy)
            fd = open_dir_nofollow(host.parent)
        except (OSError, ViewError):
            continue  # the file stays held: hidden, never shown raw
        try:
            owner = (st_copy.st_uid, st_copy.st_gid)
            times = (st_copy.st_atime_ns, st_copy.st_mtime_ns)
            st = write_copy(fd, host.name, data, stat.S_IMODE(st_copy.st_mode), owner, times)
            out.append(Placed(host, st.st_dev, st.st_ino, data))
        except OSError:
            pass
        finally:
            os.close(fd)
    return out


def take_back(placed: Iterable[Placed], workspace: Path) -> list[str]:
    """Remove the copies :func:`place_copies` made, by identity; name the ones a command changed.

    A copy still at its name and unchanged is deleted. A changed one is deleted too (it held
    placeholders, the command's edit is discarded and reported), and so is a file with exactly the
    copy's bytes at the name (the copy put back by the protected-path restore after a command
    replaced it). A copy that is gone or replaced is reported; whatever else the command left at the
    name is set aside by the hold's restore, never deleted.
    """
    from codeward.sandbox.hold import open_dir_nofollow

    changed: list[str] = []
    for p in placed:
        rel = p.host.relative_to(workspace).as_posix() if is_within(p.host, workspace) else str(p.host)
        try:
            fd = open_dir_nofollow(p.host.parent)
        except OSError:
            changed.append(rel)
            continue
        try:
            st = os.stat(p.host.name, dir_fd=fd, follow_symlinks=False)
            ours = (st.st_dev, st.st_ino) == (p.dev, p.ino)
            same = False
            if stat.S_ISREG(st.st_mode):
                with contextlib.suppress(OSError):
                    rfd = os.open(p.host.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=fd)
                    try:
                        same = _read_fd(rfd, len(p.data) + 1) == p.data
                    finally:
                        os.close(rfd)
            if not ours:
                changed.append(rel)
                if not same:
                    continue  # the command's file: the hold's restore sets it aside
                # the copy, re-made at the name by the protected-path put-back (git rewrites a
                # config by lock and rename): placeholders only, so it goes like the copy itself
            elif not same:
                changed.append(rel)
            os.unlink(p.host.name, dir_fd=fd)
        except OSError:
            changed.append(rel)
        finally:
            os.close(fd)
    return changed


def _read_fd(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total < limit and (chunk := os.read(fd, min(1 << 20, limit - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
