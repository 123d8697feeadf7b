"""The secret values of the workspace's files, learned before a command's output is redacted.

A command reads files the gate never sees and may transform what it read (``rev .env.local``) so
that no rule recognises the output. The gate therefore has to know the values first: before each
request leaves, :meth:`WorkspaceSecrets.refresh` walks the workspace, scans every file that is new
or changed since the last walk (identity: size, mtime, inode, ctime), and reports the values of the
findings, which the redactor then tracks in all their encodings (:mod:`codeward.privacy.known`).

Every file is scanned, ignored ones included: their secrets are the most sensitive, and a tier
that cannot mask them still lets a command read them. ``.git`` is skipped (its objects are
compressed; history is the git-history task's), as are symlinks (their target is walked where it
lives, if inside), binary files and files over :data:`MAX_FILE_BYTES`. A value stays known after the
file that held it changes: a secret once present remains a secret.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 8 << 20
BINARY_SNIFF = 8192
SKIP_DIRS = frozenset({".git"})


class WorkspaceSecrets:
    """Scans the files under ``root`` incrementally and hands back newly seen secret values."""

    def __init__(self, root: Path, scanner: Any, *, background: bool = False) -> None:
        """``background`` starts the first (full) walk in a thread at once, so that a large
        repository is being scanned while the user types and the first request is answered; the
        first :meth:`refresh` waits for it."""
        self.root = Path(root)
        self.scanner = scanner
        self._stamps: dict[str, tuple[int, int, int, int]] = {}
        self._secret_paths: set[str] = set()
        self.files_scanned = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.known_finder: Callable[[str], list[Any]] | None = None
        """Set by the redactor: finds the session's known values in any encoding. A file that changes
        after the first walk and holds one (a command's ``rev`` or ``base32`` copy of a secret file)
        counts as holding a secret, so the grep tool searches it redacted too."""
        self._walked = False
        if background:
            self._thread = threading.Thread(target=self._first_walk, name="codeward-learn", daemon=True)
            self._thread.start()

    def _first_walk(self) -> None:
        try:
            self._pending = self._refresh()
        except BaseException as e:  # reported (and the request refused) by the next refresh()
            self._error = e

    def paths(self) -> list[str]:
        """Absolute paths of every regular file seen at the last :meth:`refresh`."""
        return list(self._stamps)

    def secret_paths(self) -> set[str]:
        """Absolute paths of the files that held a finding at the last :meth:`refresh`."""
        return set(self._secret_paths)

    def refresh(self) -> list[tuple[str, str]]:
        """``(value, rule)`` for every finding in a file that is new or changed since the last call."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                err, self._error = self._error, None
                raise err
        with self._lock:
            out, self._pending = self._pending, []
            out.extend(self._refresh())
            return out

    def _refresh(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for path, st in _walk(self.root):
            seen.add(path)
            stamp = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
            if self._stamps.get(path) == stamp:
                continue
            self._stamps[path] = stamp
            self._secret_paths.discard(path)
            if st.st_size == 0:
                continue
            if st.st_size > MAX_FILE_BYTES:
                self._secret_paths.add(path)  # not scanned: treated as holding secrets (fail closed)
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read(MAX_FILE_BYTES + 1)
            except OSError:
                self._secret_paths.add(path)  # not scanned: treated as holding secrets (fail closed)
                continue
            if b"\0" in data[:BINARY_SNIFF]:
                continue
            text = data.decode("utf-8", "replace")
            rel = os.path.relpath(path, self.root)
            self.files_scanned += 1
            found = self.scanner.scan(text, path=rel)
            if found or (self._walked and self.known_finder is not None and self.known_finder(text)):
                self._secret_paths.add(path)
            for f in found:
                out.append((text[f.start : f.end], f.rule_id))
        self._walked = True
        for gone in set(self._stamps) - seen:
            del self._stamps[gone]
            self._secret_paths.discard(gone)
        return out


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of every regular file under ``root``, without following symlinks."""
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if e.name not in SKIP_DIRS:
                    stack.append(e.path)
            elif stat.S_ISREG(st.st_mode):
                yield e.path, st
