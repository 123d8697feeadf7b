"""Where else a secret-holding file is named, among the places a command can write.

A file that holds a secret is shown redacted to commands under every name the learner's walk found.
A command can give a file another name where that walk does not look while the file is still clean
(``ln dev.log .git/objects/keep``, or into ``/tmp``, which Landlock shares with the host) and read
the user's later secret through it raw (red teams rt13, rt15). A hard link cannot cross a file
system, and a command writes only in the workspace, its extra writable directories and, under
Landlock, the host's temporary directories (bubblewrap gives each its own): so the names to fear are found by the file's identity (device
and inode) with one ``find`` over those places, each only when it is on the device of a file looked
for. Other names elsewhere were not made by a command: uv and pnpm install a package by hard-linking
it from their store under ``~/.cache`` or ``~/.local/share``, so a venv's test fixture with a sample
key has two names, one in a place commands never write (what commands may read outside the
workspace is shown as it is: README, "What the redacted view does not cover"). Refusing every
command for those, as the first version of this check did, stopped all work in a uv project.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Iterable, Mapping

from codeward.home import mount_points
from codeward.privacy.tree_walk import FIND_ENV, FIND_PATHS

Identity = tuple[int, int]
"""A file's device and inode."""


def host_temp() -> tuple[str, ...]:
    """The host's temporary directories, which a command writes where its tier shares them
    (``Sandbox.shares_host_tmp``: Landlock's ``/tmp``, and the one its private scratch is made in)."""
    return (tempfile.gettempdir(), "/tmp")


def command_places(root: str, writable: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """The trees a command may write in: ``root`` and the other ``writable`` places the caller
    names (extra writable directories, :func:`host_temp` where shared). One inside another is left out."""
    found: list[str] = []
    for p in (root, *(os.fspath(w) for w in writable)):
        real = os.path.realpath(p)
        if os.path.isdir(real) and real not in found:
            found.append(real)
    return [p for p in found if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in found)]


def other_names(targets: Mapping[Identity, str], places: Iterable[str], walked: set[str]) -> dict[str, list[str]]:
    """For each file of ``targets`` (identity to its name in the walk), its names under ``places``
    that are not in ``walked``. Raises :class:`OSError` when they cannot all be looked for (no
    ``find``, a ``find`` stopped, a directory this user cannot list but could have linked into):
    the caller refuses the command.

    A place is skipped only when it is on no target's file system and no file system is mounted
    inside it: a volume inside the workspace (``docker run -v`` for ``node_modules``, a btrfs
    subvolume) holds files whose device is not the workspace root's (red team rt17), so ``find``
    crosses mounts and the identity is matched on what it prints for each file."""
    find = next((f for f in FIND_PATHS if os.path.isfile(f)), None)  # never one from PATH (rt17)
    if find is None:
        raise OSError("no find program in /usr/bin or /bin to look for other names of a linked file")
    devices = {dev for dev, _ in targets}
    mounts = [str(m) for m in mount_points()] or None  # none read (no /proc): every place is searched
    out: dict[str, list[str]] = {}
    for place in places:
        try:
            on_target = os.stat(place).st_dev in devices
        except OSError:
            continue
        inner = mounts is None or any(m.startswith(place.rstrip("/") + "/") for m in mounts)
        if not on_target and not inner:
            continue  # a hard link cannot cross to another file system
        run = subprocess.run(
            [find, place, *_EXPRESSION],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=FIND_ENV,
            check=False,
        )
        if run.returncode < 0:  # killed: its listing is cut short
            raise OSError(f"find over {place} was stopped by signal {-run.returncode}")
        for line in run.stdout.split(b"\0"):
            kind, _, rest = line.partition(b" ")
            if kind == b"D":
                dev, _, raw = rest.partition(b" ")
                shut = os.fsdecode(raw)
                # on another file system it cannot hold a link to them, unless one is mounted below it
                if int(dev) in devices or mounts is None or any(m.startswith(shut + "/") for m in mounts):
                    _refuse_unlisted(shut)
                continue
            dev, _, rest = rest.partition(b" ")
            ino, _, path = rest.partition(b" ")
            if kind != b"F" or not path:
                continue
            name = os.fsdecode(path)
            owner = targets.get((int(dev), int(ino)))
            if owner is not None and name not in walked:
                out.setdefault(owner, []).append(name)
    return out


_EXPRESSION = (
    # a directory this user cannot list or enter: named, not entered (find would only complain)
    *("-type", "d", "(", "!", "-readable", "-o", "!", "-executable", ")", "-printf", "D %D %p\\0", "-prune"),
    *("-o", "-type", "f", "-links", "+1", "-printf", "F %D %i %p\\0"),
)


def _refuse_unlisted(path: str) -> None:
    """Refuse when ``path`` (a directory ``find`` could not list or enter) could hold a name a command
    made: one this user owns (a command's ``chmod 300`` after ``ln``; it can undo that) or may write
    in and enter (a drop box: a name made there is opened without listing). Another user's
    directory this user cannot write in holds nothing of its making (``/tmp/systemd-private-*``, a
    mode-0711 home), and refusing there would let any other account stop this user's work (red team
    rt18). Root lists everything."""
    try:
        st = os.lstat(path)
    except OSError:
        return  # gone since find saw it: whatever it held went with it
    if st.st_uid == os.geteuid() or os.access(path, os.W_OK | os.X_OK, follow_symlinks=False):
        raise OSError(
            f"cannot list {path} to look there for other names of a file holding a secret; "
            f"make it readable (chmod u+rx {shlex.quote(path)}) or remove it"
        )
