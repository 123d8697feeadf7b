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
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping

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
    that are not in ``walked``. Raises :class:`OSError` when they cannot be looked for (no ``find``):
    the caller refuses the command."""
    find = shutil.which("find")
    if find is None:
        raise OSError("no find program to look for other names of a linked file")
    devices = {dev for dev, _ in targets}
    out: dict[str, list[str]] = {}
    for place in places:
        try:
            if os.stat(place).st_dev not in devices:
                continue  # a hard link cannot cross to another file system
        except OSError:
            continue
        run = subprocess.run(
            [find, place, "-xdev", "-type", "f", "-links", "+1", "-printf", "%D %i %p\\0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if run.returncode < 0:  # killed: its listing is cut short (an unreadable directory is exit 1)
            raise OSError(f"find over {place} was stopped by signal {-run.returncode}")
        listing = run.stdout
        for line in listing.split(b"\0"):
            dev, _, rest = line.partition(b" ")
            ino, _, path = rest.partition(b" ")
            if not path:
                continue
            name = os.fsdecode(path)
            owner = targets.get((int(dev), int(ino)))
            if owner is not None and name not in walked:
                out.setdefault(owner, []).append(name)
    return out
