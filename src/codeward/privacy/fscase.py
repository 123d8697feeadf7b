"""Does the file system under a workspace fold case? Then ignore rules must match without case.

On a case-insensitive file system (macOS and Windows defaults, a FAT stick, an ext4 directory with
``chattr +F``) ``read_file("SECRETS/prod.key")`` opens ``secrets/prod.key``; a matcher comparing
names exactly would let that spelling past ``secrets/``. git answers the same question once per
repository (``core.ignorecase``, probed at ``git init``/``clone``); codeward asks per workspace root,
by the file system itself, and also honours git's setting. Either saying "folds" is enough: matching
without case hides more, never less.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path


def case_insensitive(root: Path) -> bool:
    """True when names under ``root`` are compared without case (probed, or by git's ``core.ignorecase``).

    The probe stats the other-case spelling of a name that exists in ``root`` (``.git`` in a
    repository) and compares identities; with no such name it creates a temporary probe file and
    removes it. A root that can be neither probed nor written is taken as case-insensitive (fail
    closed: more is hidden, nothing leaks). A directory below the root with its own setting (ext4
    casefold is per directory) is judged by the root, as git judges a whole repository by one probe.
    """
    probed = _probe(root)
    if probed is None:
        return True
    return probed or git_ignorecase(root)


def _swapped(name: str) -> str | None:
    """``name`` with every letter's case swapped, or None when it has no cased letter."""
    other = name.swapcase()
    return other if other != name else None


def _same_entry(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _probe(root: Path) -> bool | None:
    """The file system's answer for ``root``, or None when it cannot be asked."""
    try:
        with os.scandir(root) as it:
            for entry in it:
                other = _swapped(entry.name)
                if other is not None:
                    return _same_entry(root / entry.name, root / other)
    except OSError:
        return None
    try:
        fd, name = tempfile.mkstemp(prefix=".codeward-case-probe-", dir=root)
    except OSError:
        return None
    try:
        os.close(fd)
        probe = Path(name)
        other = _swapped(probe.name)
        return other is not None and _same_entry(probe, probe.with_name(other))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def git_ignorecase(root: Path) -> bool:
    """git's ``core.ignorecase`` for the repository at ``root`` (False outside one or when unset)."""
    if not (root / ".git").exists():
        return False
    from codeward.hostgit import git_command

    # the ceiling keeps git from reading an enclosing repository's setting when this .git is not valid
    ceiling = {"GIT_CEILING_DIRECTORIES": str(root.parent)}
    argv, env = git_command(["config", "--type=bool", "--get", "core.ignorecase"], root, drivers=False, env=ceiling)
    try:
        out = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == "true"
