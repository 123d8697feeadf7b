"""What a secret learner keeps beside its walks: an inotify watch of its tree, and the periodic
full walk that runs in the background (see :mod:`codeward.privacy.tree_watch` for why both exist).

A process keeps at most :data:`KEPT_WATCHES` watches: inotify instances are 128 per user, and the
sandbox's own watches need theirs. Starting one closes the oldest other learner's, whose refreshes
then walk again; a watch closes under its own lock, so an owner using it meanwhile only finds it
broken, never reads another watch's descriptor.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Protocol

from codeward.privacy import tree_walk

if TYPE_CHECKING:
    from codeward.privacy.tree_watch import TreeWatch

KEPT_WATCHES = 4


class WatchOwner(Protocol):
    """A learner, as far as the registry needs it: the watch it holds now (None once it walks)."""

    watch: TreeWatch | None


_watching: list[weakref.ref[WatchOwner]] = []  # owners with a watch, oldest first
_watch_lock = threading.Lock()


def start_watch(owner: WatchOwner, root: str) -> TreeWatch | None:
    """A watch for ``root`` on behalf of ``owner``, or None when the kernel gives no inotify
    descriptor (every refresh walks); closes the oldest other owner's beyond :data:`KEPT_WATCHES`."""
    from codeward.privacy.tree_watch import TreeWatch

    try:
        watch = TreeWatch(root)
    except OSError:
        return None
    with _watch_lock:
        others = [r for r in _watching if (o := r()) is not None and o is not owner and o.watch is not None]
        while len(others) >= KEPT_WATCHES:
            oldest = others.pop(0)()
            if oldest is not None and oldest.watch is not None:
                oldest.watch.close()  # its refreshes walk again
        _watching[:] = [*others, weakref.ref(owner)]
    weakref.finalize(owner, watch.close)
    return watch


class BackgroundWalk:
    """A full walk running beside the session: ``find`` in its own process, its output read and
    split in a thread (a walk in Python would hold the GIL for seconds)."""

    def __init__(self, root: str) -> None:
        self.result: dict[str, str] | None = None
        self._walk = tree_walk.Walk(root)
        self._thread = threading.Thread(target=self._run, name="codeward-learn-walk", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._walk.found()
        except Exception:  # a failed walk is no walk: the next refresh walks itself
            self.result = None

    def done(self) -> bool:
        return not self._thread.is_alive()

    def cancel(self) -> None:
        self._walk.cancel()
        self._thread.join()
