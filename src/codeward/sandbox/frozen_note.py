"""Why a Landlock command could not add or remove entries where ignored files stayed in place.

The Landlock tier holds hidden files by renaming them out of the tree; where that is impossible (the
workspace is a mount point, or another mount) the directories down to them are frozen, and the model
gets this note, with the cause and the fix, instead of a bare "access denied".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from codeward.sandbox.spec import SandboxSpec, is_within

GENERIC_DENIAL = "sandbox (landlock): access denied"


def frozen_note(left: Sequence[Path], spec: SandboxSpec) -> str:
    """Why entries cannot be added or removed where ignored files could not be moved out, and the fix.

    A hidden path is held by renaming it to a place outside the workspace on the same mount; when
    the workspace is itself a mount point no such place exists (a rename across mounts is
    ``EXDEV``), so the directories from the workspace root down to the file are frozen instead.
    Copying the file out instead would break files other programs have open (a database a dev
    server writes) and their identity, so the tier does not.
    """

    def rel(p: Path) -> str:
        if p == spec.workspace:
            return "."
        return p.relative_to(spec.workspace).as_posix() if is_within(p, spec.workspace) else str(p)

    files = sorted({rel(p) for p in left})
    dirs = sorted({rel(p.parent) for p in left})
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    where = ", ".join(d + "/" if d != "." else "the workspace root" for d in dirs[:3])
    if is_mount_point(spec.workspace):
        cause = "the workspace is a mount point"
        fix = 'mount its parent instead (docker run -v "$(dirname "$PWD")":/src -w /src/NAME)'
    else:
        cause = "another mount, or a directory codeward cannot write"
        fix = "keep them on the workspace's own filesystem in a directory you can write"
    return (
        f"sandbox (landlock): no entry can be added, removed or renamed in {where} or the directories above: "
        f"the ignored {shown} cannot be moved out of the workspace while a command runs ({cause}); "
        f"{fix}, or make bubblewrap usable"
    )


def is_mount_point(p: Path) -> bool:
    """Whether ``p`` is a mount point, bind mounts of a directory onto itself included.

    ``os.path.ismount`` compares devices, which a bind mount on the same filesystem does not change,
    so the mount table is read instead (``\\040``-style escapes undone).
    """
    from codeward.home import mount_points

    found = mount_points()
    return p in found if found else os.path.ismount(p)
