"""The files a command must see redacted right now: the one entry point the agent's shell tool and
``codeward sandbox`` share, over the session's secret learner (:mod:`codeward.privacy.learn`)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from typing import Any


def secret_paths_now(redactor: Any, writable: Iterable[str | os.PathLike[str]] = ()) -> set[str]:
    """The files a command must see redacted, brought up to date: what changed is rescanned, and the
    sweep that marks files holding a known value in a form no rule finds (``prod: <the .env's
    value>``) has covered every value known so far. One place for the agent's shell tool and
    ``codeward sandbox``; raises whatever the scan raises (the caller refuses the command).
    ``writable``: the command's extra writable directories, where another name of a secret file
    would be as readable as the workspace's (:class:`LinkedOutside`)."""
    learner = redactor.learner
    redactor.refresh()
    sweep = getattr(learner, "sweep", None)
    if sweep is not None:
        sweep(redactor.known.items())
    outside = getattr(learner, "linked_outside", None)
    if outside is not None:
        elsewhere = outside(writable)
        if elsewhere:
            raise LinkedOutside(elsewhere)
    hidden = getattr(learner, "hidden_entries", None)
    return set(learner.secret_paths()) | (hidden() if hidden is not None else set())


class LinkedOutside(Exception):
    """A file that holds a secret has another name (a hard link) where a command can write and the
    walk of the workspace does not look: a git object store, ``/tmp``, an extra writable directory
    (:mod:`codeward.privacy.link_names`). Its redacted copy covers only the workspace's names, and a
    command could read the value through the other one (red teams rt13, rt15), so commands are
    refused until that name is gone."""

    def __init__(self, found: dict[str, list[str]]) -> None:
        self.found = found
        names = sorted(n for ns in found.values() for n in ns)
        files = sorted(found)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        super().__init__(
            f"{files[0]}{f' (and {len(files) - 1} more files)' if len(files) > 1 else ''} holds a secret and "
            f"has another name (a hard link) where commands could read it unredacted: {shown}; remove "
            f"{'it' if len(names) == 1 else 'them'} (`rm {shlex.quote(names[0])}`), or copy the file instead of linking it"
        )
