#!/usr/bin/env python3
"""The grep tool on a large tree: a no-match search and a search with a few matches.

    python bench/grep_speed.py [--files 200000] [--runs 3]

Builds (once) a git repository of N small Python-like files under /tmp/cw-grep-<N> (100 files per
directory), opens a session on it the way the CLI does (no provider key needed), and calls the
``grep`` tool through the tool registry: the first call includes the session's first workspace
scan (every file read and scanned for secrets, as the first request also pays), later calls only
ripgrep's search when the pattern's shape proves that enough (``tools/grep_shape.py``), else the
incremental walk (an ``lstat`` per file) too, then the redacted search of the candidate files.
Prints the wall time of each call and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import time
from pathlib import Path

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "return",
    "value",
    "import",
    "from",
    "class",
    "def",
    "self",
    "print",
    "list",
    "dict",
]


def build(n: int) -> Path:
    root = Path(f"/tmp/cw-grep-{n}")
    if (root / ".git").is_dir():
        return root
    rnd = random.Random(1)
    for d in range(n // 100):
        dp = root / f"pkg{d // 100}" / f"mod{d}"
        dp.mkdir(parents=True, exist_ok=True)
        for f in range(100):
            lines = (" ".join(rnd.choice(WORDS) for _ in range(8)) for _ in range(5))
            (dp / f"f{f}.py").write_text("\n".join(lines) + "\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = build(args.files)
    os.environ.setdefault("CODEWARD_HOME", "/tmp/cw-grep-home")
    from codeward.agent.session import build_session
    from codeward.config.load import ConfigOverrides
    from codeward.events import EventBus
    from codeward.providers.types import ToolCall
    from codeward.tools.asking import NoTerminalApprover

    session = build_session(
        root,
        ConfigOverrides(approval_mode="suggest"),
        events=EventBus(),
        approver=NoTerminalApprover(),
        need_key=False,
        persist=False,
    )

    def call(pattern: str) -> tuple[float, str]:
        t = time.perf_counter()
        out = session.agent.tools.dispatch(ToolCall("c", "grep", json.dumps({"pattern": pattern})), session.ctx)
        return time.perf_counter() - t, out.text

    print(f"{args.files} files under {root}; load average {_load()}")
    dt, out = call("no_such_identifier_[0-9]+")
    print(f"first call (waits for the session's first workspace walk): {dt:.2f} s ({out.splitlines()[0]})")
    for i in range(args.runs):
        dt, out = call("no_such_identifier_[0-9]+")
        print(
            f"no-match search (fast path: ripgrep only) while the first walk's sweep runs, call {i + 1}: "
            f"{dt:.2f} s ({out.splitlines()[0]})"
        )
    t = time.perf_counter()
    session.ctx.gate.redactor.learner.wait_sweep()  # the sweep shares the cores with the searches
    print(f"waited {time.perf_counter() - t:.1f} s more for the sweep to end")
    for i in range(args.runs):
        dt, out = call("no_such_identifier_[0-9]+")
        print(f"no-match search (fast path) after the sweep, call {i + 1}: {dt:.2f} s ({out.splitlines()[0]})")
    from codeward.tools.grep import rg_binary

    rg = rg_binary()
    if rg:
        t = time.perf_counter()
        subprocess.run(
            [rg, "-l", "--text", "--encoding", "none", "no_such_identifier_[0-9]+", str(root)], capture_output=True
        )
        print(f"ripgrep alone, same pattern: {time.perf_counter() - t:.2f} s")
    dt, out = call("epsilon epsilon epsilon epsilon")
    print(f"search with matches (fast path, matches confirmed by a walk): {dt:.2f} s ({len(out.splitlines())} lines)")
    dt, out = call("no_such_identifier|<secret")
    print(f"no-match search that could match a placeholder (slow path: walk): {dt:.2f} s ({out.splitlines()[0]})")
    print(f"load average {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
