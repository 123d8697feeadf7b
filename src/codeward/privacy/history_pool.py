"""The history's blob scan on every core: forked workers, each reading its share of the ids with its
own ``git cat-file --batch`` and scanning it with the parent's compiled scanner (copy-on-write).

The scan is CPU bound (the rules and their decode pass, about 2 MB/s on one core of the lead's
machine; git decompresses on another). Forking is only safe from a process with one thread: a lock
another thread holds at the fork (in the regex engine's caches, say) stays locked in the child
forever. So :func:`can_fork` says no as soon as a second thread runs, and the caller scans in its
own thread instead: ``codeward doctor`` forks, a session (whose workspace scan runs beside) does not.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 200
MIN_OBJECTS = 4000
"""Below this many objects a worker costs more than it saves."""

Judge = Callable[[bytes, Any, "str | None"], tuple[list[tuple[str, str]], list[str]]]
""":func:`codeward.privacy.history.judge_blob`: a blob's ``(value, rule)`` pairs and rule ids."""

_job: tuple[Path, Any, dict[str, str], Callable[..., Iterator[tuple[str, bytes]]], Judge] | None = None
"""(root, scanner, paths, read_blobs, judge), set in the parent just before the fork; the workers read it."""

Chunk = tuple[list[tuple[str, str]], dict[str, list[str]], set[str], int, int, int]
"""(values, secret blobs, clean ids, scanned, skipped, objects read) of one share."""


def can_fork(objects: int) -> bool:
    return (os.cpu_count() or 1) > 1 and objects >= MIN_OBJECTS and threading.active_count() == 1


def _scan_chunk(ids: list[str]) -> Chunk:
    assert _job is not None
    root, scanner, paths, read_blobs, judge = _job
    values: list[tuple[str, str]] = []
    secret: dict[str, list[str]] = {}
    clean: set[str] = set()
    scanned = skipped = read = 0
    for oid, data in read_blobs(root, ids):
        read += 1
        scanned += 1
        found, rules = judge(data, scanner, paths.get(oid) or None)
        if not rules:
            clean.add(oid)
            continue
        secret[oid] = rules
        values.extend(found)
    return values, secret, clean, scanned, skipped, len(ids)


def scan_forked(
    root: Path,
    scanner: Any,
    todo: list[str],
    paths: dict[str, str],
    read_blobs: Callable[..., Iterator[tuple[str, bytes]]],
    judge: Judge,
    *,
    deadline: float | None,
    stop: threading.Event,
    on_progress: Callable[[int, int], None] | None,
) -> Iterator[Chunk]:
    """Each share's result as it comes; stops (and kills the workers) at ``deadline`` or ``stop``."""
    global _job
    from codeward.hostgit import git_command  # imported before the fork: children import nothing

    del git_command
    _job = (root, scanner, paths, read_blobs, judge)
    shares = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    done = 0
    pool = multiprocessing.get_context("fork").Pool(processes=min(os.cpu_count() or 1, 4))
    try:
        results = pool.imap_unordered(_scan_chunk, shares)
        while True:
            if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
                stop.set()
                return
            try:
                got = results.next(timeout=0.25)
            except multiprocessing.TimeoutError:
                continue
            except StopIteration:
                return
            done += got[5]
            if on_progress is not None:
                on_progress(done, len(todo))
            yield got
    finally:
        pool.terminate()
        pool.join()
        _job = None
