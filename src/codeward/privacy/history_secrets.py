"""The secret values of a repository's git history, learned in stages by one background scan.

A cold scan of a large history takes minutes (numpy: 126 000 blobs, 6.4 GB), so it runs in a
thread from the session's start, in the order a staged sandbox needs it:

1. commit and tag messages (small; ``git log`` prints them and the staged view has every commit);
2. the blobs of the current snapshot (HEAD's tree and the index: what the working tree holds);
   :attr:`HistorySecrets.ready` is set then;
3. every other object; :attr:`HistorySecrets.complete` is set then.

Under bubblewrap the object-store view (:mod:`codeward.privacy.history_view`) shows commands only
what stages 1-2 judged until stage 3 ends, so nothing a command can read is unscanned and
:meth:`HistorySecrets.refresh` (which the gate calls before each request carrying tool output)
waits only for ``ready``. Where commands read ``.git`` raw (Landlock, a worktree, or a tier not yet
known) it waits for the whole scan, as before, and reports its progress while it waits. The view
reuses this scan's verdicts (:func:`running_for`): one scan per session, not two.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeward.privacy.history import (
    MAX_BLOB,
    MESSAGES,
    HistoryError,
    clean_cache_file,
    is_repository,
    list_blobs,
    load_clean,
    objects_dir,
    save_clean,
    scan_blobs,
    snapshot_blobs,
    store_stamp,
)

NOTICE_AFTER_S = 1.0
NOTICE_EVERY_S = 5.0


@dataclass(frozen=True)
class ScanProgress:
    """How far the first scan is: objects judged (scanned now or clean in the cache) of all."""

    done: int
    total: int
    first_time: bool
    """Nothing of this store was in the clean-blob cache when the session started."""

    def line(self) -> str:
        first = ", first time for this repository" if self.first_time else ""
        return f"scanning git history for secrets: {self.done} of {self.total} blobs{first}"


class HistorySecrets:
    """The secret values of a repository's object store, for the redactor (``refresh`` like
    :class:`codeward.privacy.learn.WorkspaceSecrets`)."""

    def __init__(
        self,
        root: Path,
        scanner: Any,
        *,
        background: bool = False,
        cache_dir: Path | None = None,
        staged: Callable[[], bool] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """``background`` starts the first scan in a thread. ``staged()`` says whether commands see
        only scanned objects (a staged object-store view under bubblewrap): then :meth:`refresh`
        waits for stage 2 only, else for the whole scan, calling ``on_wait`` with a progress line
        while it waits. A directory that is not a repository has no history: every call returns nothing."""
        self.root = Path(root)
        self.scanner = scanner
        self.cache_dir = cache_dir
        self.cache_file = clean_cache_file(cache_dir, self.root, scanner) if cache_dir is not None else None
        self.staged = staged
        self.on_wait = on_wait
        self.blobs_scanned = 0
        self.ready = threading.Event()
        """Messages and the snapshot are judged (or the scan failed: see :attr:`error`)."""
        self.complete = threading.Event()
        """Every object is judged (or the scan failed: see :attr:`error`)."""
        self.error: BaseException | None = None
        self.clean: set[str] = set()
        """Ids judged clean (by this scan or the cache): the view need not read them again."""
        self.messages: frozenset[str] = frozenset()
        """The commits and tags whose messages stage 1 judged (their values are known once ready)."""
        self.done = 0
        self.total = 0
        self.first_time = False
        self._seen: set[str] = set()
        self._stamp: tuple[int, ...] | None = None
        self._objects: Path | None = None
        self._pending: list[tuple[str, str]] = []
        self._plock = threading.Lock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.enabled = is_repository(self.root)
        if background and self.enabled:
            _registry[self.root.resolve()] = self  # the object-store view reuses this scan
            self._thread = threading.Thread(target=self._first, name="codeward-history", daemon=True)
            _running.add(self)
            self._thread.start()

    def clean_ids(self) -> set[str]:
        """A copy of :attr:`clean` (the scan thread adds to it)."""
        with self._plock:
            return set(self.clean)

    def progress(self) -> ScanProgress:
        return ScanProgress(self.done, self.total, self.first_time)

    def stop(self, timeout: float = 5.0) -> None:
        """End the background scan early (a thread inside the scanner at exit aborts the process);
        what it judged clean so far is kept in the cache for the next session."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        _running.discard(self)

    def _first(self) -> None:
        try:
            with self._lock:
                self._staged_scan()
        except BaseException as e:  # reported by the next refresh(), which then refuses the request
            self.error = e
        finally:
            self.ready.set()  # waiters wake and find the error, or a finished stage
            if self.error is not None or not self._stop.is_set():
                self.complete.set()

    def _add(self, got: Any, judged: set[str]) -> None:
        with self._plock:
            self._pending.extend(got.values)
            self.clean |= got.clean
        self.blobs_scanned += got.scanned
        judged.update(got.clean, got.secret_blobs)
        self.done = len(judged)

    def _staged_scan(self) -> None:
        self._objects = objects_dir(self.root)
        stamp = store_stamp(self._objects)
        messages = list_blobs(self.root, MESSAGES)
        blobs = list_blobs(self.root)
        every = {**blobs, **messages}
        cached = load_clean(self.cache_file) & set(every)
        self.clean = set(cached)
        self.total = len(every)
        self.first_time = not cached
        judged = {o for o, size in every.items() if o in cached or size == 0 or size > MAX_BLOB}
        self.done = len(judged)

        def counter(base: int) -> Callable[[int, int], None]:
            def on_progress(done: int, _total: int) -> None:
                self.done = base + done

            return on_progress

        def stage(objs: dict[str, int], paths: dict[str, str] | None) -> bool:
            """Scan ``objs``; False when stopped (the session ended)."""
            got = scan_blobs(
                self.root,
                self.scanner,
                objs,
                known_clean=cached,
                stop=self._stop,
                cache_dir=self.cache_dir,
                paths=paths,
                on_progress=counter(self.done),
            )
            self._add(got, judged)
            return not self._stop.is_set()

        snapshot = {o: p for o, p in snapshot_blobs(self.root).items() if o in blobs}
        ok = stage(messages, {})
        if ok:
            self.messages = frozenset(messages)
        ok = ok and stage({o: blobs[o] for o in snapshot}, snapshot)
        self.ready.set()
        rest = {o: s for o, s in blobs.items() if o not in snapshot}
        if ok and stage(rest, None):
            self._seen.update(every)
            self._stamp = stamp
        save_clean(self.cache_file, self.clean)  # also when stopped: the next session goes on from here

    def refresh(self) -> list[tuple[str, str]]:
        """``(value, rule)`` of the findings in objects judged since the last call (all, the first time)."""
        if not self.enabled:
            return []
        if self._thread is not None:
            if self.staged is not None and self.staged():
                self._wait(self.ready)
                if self.error is None and not self.complete.is_set():
                    return self._drain()  # commands see only what is scanned: the rest can wait
            self._wait(self.complete)
            self._thread.join()
            if not self.complete.is_set():  # stopped (the session is ending): judged nothing more
                raise HistoryError("the git history scan was stopped before it finished")
            self._thread = None
            _running.discard(self)
        if self.error is not None:
            raise self.error  # every later request is refused too: the history stays unjudged
        with self._lock:
            return self._drain() + self._refresh()

    def _drain(self) -> list[tuple[str, str]]:
        with self._plock:
            out, self._pending = self._pending, []
        return out

    def _wait(self, event: threading.Event) -> None:
        """Wait for ``event``, telling ``on_wait`` how far the scan is after a second and then every few."""
        start = last = time.monotonic()
        told = False
        while not event.wait(0.25):
            if self._thread is not None and not self._thread.is_alive():
                return  # stopped before the event: the caller finds out
            now = time.monotonic()
            if (
                self.on_wait is not None
                and now - start >= NOTICE_AFTER_S
                and (not told or now - last >= NOTICE_EVERY_S)
            ):
                self.on_wait(self.progress().line())
                told, last = True, now

    def _refresh(self) -> list[tuple[str, str]]:
        """The objects added since the last scan (a stat of the store says whether any were)."""
        if self._objects is None:
            self._objects = objects_dir(self.root)
        stamp = store_stamp(self._objects)
        if stamp == self._stamp:
            return []
        messages = list_blobs(self.root, MESSAGES)
        blobs = {**list_blobs(self.root), **messages}
        new = {o: s for o, s in blobs.items() if o not in self._seen}
        cached = load_clean(self.cache_file)
        got = scan_blobs(
            self.root,
            self.scanner,
            new,
            known_clean=cached,
            stop=self._stop,
            cache_dir=self.cache_dir,
            pathless=set(messages),
        )
        if self._stop.is_set():
            return got.values
        self.blobs_scanned += got.scanned
        self._seen.update(new)
        self._stamp = stamp
        with self._plock:
            self.clean |= got.clean
        if got.clean:
            save_clean(self.cache_file, (cached & set(blobs)) | got.clean)
        return got.values


_registry: weakref.WeakValueDictionary[Path, HistorySecrets] = weakref.WeakValueDictionary()
_running: weakref.WeakSet[HistorySecrets] = weakref.WeakSet()


def running_for(root: Path, scanner: Any, cache_dir: Path | None) -> HistorySecrets | None:
    """The session's history scan of ``root`` with the same rules, whose verdicts the view may reuse."""
    hs = _registry.get(Path(root).resolve())
    if hs is None:
        return None
    same = hs.scanner is scanner or (
        cache_dir is not None and hs.cache_file == clean_cache_file(cache_dir, Path(root), scanner)
    )
    return hs if same else None


@atexit.register
def _stop_all() -> None:
    for h in list(_running):
        h.stop()


def nested_repositories(workspace: Any, *, protected: Iterable[Path] | None = None, refresh: bool = True) -> list[Path]:
    """The repositories inside the workspace other than its own: each ``.git`` (directory or a
    submodule's pointer file) below the root, from the workspace's directory index.

    ``protected``: the workspace's protected paths as the caller just read them (the sandbox's view
    has them); otherwise they are read from the index, refreshed first unless ``refresh`` is False
    (the caller just refreshed it: a sandboxed command's census did)."""
    root = Path(workspace.root)
    paths = workspace.protected_paths(refresh=refresh) if protected is None else protected
    return sorted({p.parent for p in paths if p.name == ".git" and p.parent != root and p.exists()})
