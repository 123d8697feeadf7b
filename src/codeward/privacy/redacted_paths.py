"""The files a command must see redacted right now: the one entry point the agent's shell tool and
``codeward sandbox`` share, over the session's secret learner (:mod:`codeward.privacy.learn`)."""

from __future__ import annotations

from typing import Any


def secret_paths_now(redactor: Any) -> set[str]:
    """The files a command must see redacted, brought up to date: what changed is rescanned, and the
    sweep that marks files holding a known value in a form no rule finds (``prod: <the .env's
    value>``) has covered every value known so far. One place for the agent's shell tool and
    ``codeward sandbox``; raises whatever the scan raises (the caller refuses the command)."""
    learner = redactor.learner
    redactor.refresh()
    sweep = getattr(learner, "sweep", None)
    if sweep is not None:
        sweep(redactor.known.items())
    outside = getattr(learner, "linked_outside", None)
    if outside is not None:
        elsewhere = outside()
        if elsewhere:
            raise LinkedOutside(elsewhere)
    hidden = getattr(learner, "hidden_entries", None)
    return set(learner.secret_paths()) | (hidden() if hidden is not None else set())


class LinkedOutside(Exception):
    """A file that holds a secret has a name the walk of the workspace does not reach (a hard link
    in ``/tmp``, another directory, or a git object store): its redacted copy covers only the
    workspace's names, and a command could read the value through the other one (red teams rt13,
    rt15). The command is refused until that name is gone."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        super().__init__(
            f"{shown} holds a secret and has another name (a hard link) where the sandbox cannot show it "
            f"redacted; find it with `find / -xdev -samefile {paths[0]}` and remove it, or copy the file "
            "instead of linking it"
        )
