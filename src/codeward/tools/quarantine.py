"""Set aside what a command wrote while the host exposed a hidden file to it.

When the host replaces a hidden or redacted file while a command runs, bubblewrap's mask on it is
gone for a moment and the command is stopped (:mod:`codeward.sandbox.host_watch`); so is a command
that opens a file the ignore rules hide which appeared while it ran (:mod:`codeward.sandbox.new_names`,
both tiers). Its output is withheld, but files it wrote in that moment may hold what it read, in any
transform. So every file of the workspace new or changed since the scan before the command (except
the host's own files, named by where they appeared: a copy the command renamed goes too) is moved,
never deleted, to the codeward home's ``quarantine/``, out of every command's and tool's reach, and
the model and the user are told where.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def quarantine_changed(
    learner: Any, home: Path, host_changed: tuple[str, ...], untouchable: Iterable[Path] = ()
) -> tuple[Path, list[str]]:
    """Move the files the command may have written; returns the quarantine directory and what moved.
    ``untouchable``: paths (and directories) hidden from the command or shown to it as a redacted
    copy when it started, which it could not write."""
    root = Path(learner.root)
    spared = [*(Path(p) for p in host_changed), *untouchable]
    target = home / "quarantine" / time.strftime("%Y%m%dT%H%M%S")
    moved: list[str] = []
    for path in learner.changed_files():
        p = Path(path)
        if any(p == s or s in p.parents for s in spared):
            continue  # the host's own save: the user's file, not the command's
        rel = p.relative_to(root)
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.move(os.fspath(p), os.fspath(dest))
        moved.append(rel.as_posix())
    return target, moved
