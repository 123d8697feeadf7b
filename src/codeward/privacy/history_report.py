"""What ``codeward doctor`` says about the secrets in a repository's git history (no values).

:func:`history_findings` is :mod:`codeward.privacy.history`'s scan under a time budget: on a large
history (numpy: 126 000 blobs, 6.4 GB) a cold scan takes many minutes, so past the budget it stops
and says how far it got (:attr:`HistoryReport.complete` false), which the check reports as a
failure, never as a pass. What it scanned is saved in the clean-blob cache, so the next run
continues where this one stopped.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeward.privacy.history import (
    MESSAGES,
    HistoryError,
    clean_cache_file,
    list_blobs,
    load_clean,
    run_git,
    save_clean,
    scan_blobs,
)


@dataclass(frozen=True)
class HistoryReport:
    """What ``codeward doctor`` says about the secrets in a repository's history (no values)."""

    secrets: int
    """Distinct secret values found in all blobs."""
    commits: int
    """Commits that introduced a blob holding one."""
    rules: tuple[str, ...]
    paths: tuple[str, ...]
    """Paths under which those blobs were committed or staged."""
    unreferenced: int
    """Blobs with secrets that no commit, reflog or the index holds (``git gc --prune`` removes them)."""
    blobs: int
    """Blobs, commits and tags in the store (scanned now, or known clean from the cache)."""
    blobs_scanned: int
    blobs_skipped: int
    unscanned: int = 0
    """Objects the time budget left unscanned (0: the whole store was judged)."""
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.unscanned == 0


def history_findings(
    root: Path,
    scanner: Any,
    *,
    cache_dir: Path | None = None,
    budget_s: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> HistoryReport:
    """Scan the whole object store (reusing the clean-blob cache) and count what holds secrets.

    ``budget_s`` bounds the scan (None: no bound); ``on_progress(done, total)`` is called as it goes."""
    t0 = time.monotonic()
    cache_file = clean_cache_file(cache_dir, root, scanner) if cache_dir is not None else None
    messages = list_blobs(root, MESSAGES)
    blobs = {**list_blobs(root), **messages}
    cached = load_clean(cache_file)
    deadline = t0 + budget_s if budget_s is not None else None
    got = scan_blobs(
        root,
        scanner,
        blobs,
        known_clean=cached,
        cache_dir=cache_dir,
        pathless=set(messages),
        deadline=deadline,
        on_progress=on_progress,
        workers=os.cpu_count() or 1,  # doctor runs no other thread: it may fork
    )
    if got.clean:
        save_clean(cache_file, (cached & set(blobs)) | got.clean)
    took = time.monotonic() - t0
    if not got.secret_blobs:
        return HistoryReport(0, 0, (), (), 0, len(blobs), got.scanned, got.skipped, got.unfinished, took)
    distinct = {hashlib.sha256(f"{r}\0{v}".encode("utf-8", "surrogatepass")).digest() for v, r in got.values}
    rules = sorted({r for rs in got.secret_blobs.values() for r in rs})
    paths = sorted({got.paths[o] for o in got.secret_blobs if got.paths.get(o)})
    commits = introducing_commits(root, set(got.secret_blobs), paths) if paths else set()
    commits |= {o for o in got.secret_blobs if o in messages}  # a secret in the commit message itself
    loose = sum(1 for o in got.secret_blobs if not got.paths.get(o) and o not in messages)
    return HistoryReport(
        len(distinct),
        len(commits),
        tuple(rules),
        tuple(paths),
        loose,
        len(blobs),
        got.scanned,
        got.skipped,
        got.unfinished,
        time.monotonic() - t0,
    )


def introducing_commits(root: Path, blobs: set[str], paths: Iterable[str] = ()) -> set[str]:
    """Commits (over every ref and reflog) whose diff to a parent adds one of ``blobs``.

    ``paths`` (where those blobs were seen) limit the tree diffs, most of the cost on a long
    history; a blob that was also committed under another path is counted where it was seen."""
    spec = ["--", *(f":(literal){p}" for p in paths)] if paths else []
    args = ["log", "--all", "--reflog", "--no-renames", "--raw", "--no-abbrev", "--format=%x00%H", "-c", *spec]
    try:
        out = run_git(root, args)
    except HistoryError:
        return set()  # no commit at all (an empty repository with dangling blobs)
    commits: set[str] = set()
    current = ""
    for line in out.split(b"\n"):
        if line.startswith(b"\0"):
            current = line[1:].decode("ascii")
        elif line.startswith(b":") and current not in commits:
            meta = line.partition(b"\t")[0].split()
            new = meta[-2].decode("ascii") if len(meta) >= 2 else ""
            if new in blobs:
                commits.add(current)
    return commits
