#!/usr/bin/env python3
"""What the refresh that takes in a background walk costs (``TreeWatch.merge``, ``privacy/learn.py``).

    python bench/learner_merge.py REPO [--runs N]

A session's learner keeps its walk current from inotify and walks the whole tree in the background
every :data:`~codeward.privacy.tree_watch.FULL_WALK_EVERY_S` / 2 seconds of activity; the refresh
after that walk finished merges its listing (a copy of every stamp, the names events gave since,
one comparison of every stamp). Timed here on REPO: a refresh with nothing to merge, and the
refresh that merges a finished background walk (one made due at every refresh).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.scanner import load_scanner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, uid {os.getuid()}")
    learner = WorkspaceSecrets(args.repo.resolve(), load_scanner(), watch=True)
    start = time.perf_counter()
    learner.refresh()
    learner.refresh()  # the watch covers the tree after its first full walk
    print(f"{learner.entries} entries; first walk {time.perf_counter() - start:.1f} s")
    assert learner.watch is not None, "no watch here (inotify unavailable, or a file system it cannot see)"
    quiet, merges, walks = [], [], []
    watch = learner.watch
    watch.due = lambda: True  # a background walk at every refresh
    for _ in range(args.runs):
        t = time.perf_counter()
        learner.refresh()  # starts the background walk
        quiet.append(time.perf_counter() - t)
        bg = learner._background
        assert bg is not None
        t = time.perf_counter()
        while not bg.done():
            time.sleep(0.01)
        walks.append(time.perf_counter() - t)
        before = watch.full_walks
        t = time.perf_counter()
        learner.refresh()  # merges it
        merges.append(time.perf_counter() - t)
        assert learner.watch is watch and watch.full_walks == before + 1, "the merge was not trusted"
    learner.stop()
    print(f"refresh starting a background walk: median {statistics.median(quiet) * 1000:.1f} ms")
    print(f"background walk (its own thread and find): median {statistics.median(walks):.2f} s")
    print(f"refresh merging it: median {statistics.median(merges) * 1000:.0f} ms (min {min(merges) * 1000:.0f})")


if __name__ == "__main__":
    main()
