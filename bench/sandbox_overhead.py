"""Per-command overhead of each sandbox tier over a bare spawn of ``true``, through the agent's own runner.

Usage: ``python bench/sandbox_overhead.py [--runs N] [--tiers bwrap,landlock,none]``

"bare" is :func:`codeward.sandbox.runner.run_process` on ``true`` (what running a command costs
with no sandbox at all: spawn, pipe, wait). Each tier row is ``Sandbox.run(["true"], spec)`` on a
realistic workspace (a git repository with AGENTS.md, an ignore file, ``.env`` and a nested repo),
so it includes everything a command pays: layout decisions, the seccomp build, bwrap or the
launcher, limits, the protected-path census and cleanup. Building the spec (``spec_for_workspace``:
ignore walk + protected-path walk, which the agent does before each command) is its own line.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "AGENTS.md").write_text("# rules\n")
    (repo / ".codewardignore").write_text("private/\n")
    (repo / ".env").write_text("TOKEN=x\n")
    for i in range(50):
        d = repo / "src" / f"pkg{i % 5}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i}.py").write_text("x = 1\n")
    sub = repo / "vendor" / "lib"
    sub.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=sub, check=True)
    return repo


def measure(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up: probes, imports, page cache
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name: str, times: list[float], base: float | None) -> str:
    med = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1]
    over = f"{med - base:+.1f} ms" if base is not None else "—"
    return f"| {name} | {med:.1f} ms | {p90:.1f} ms | {over} |"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--tiers", default="bwrap,landlock,none")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["CODEWARD_HOME"] = str(base / "cwhome")
        (base / "cwhome").mkdir()
        from codeward.config.load import load_config
        from codeward.errors import SandboxUnavailable
        from codeward.sandbox import select_sandbox, spec_for_workspace
        from codeward.sandbox.runner import run_process
        from codeward.workspace import Workspace

        repo = make_repo(base)
        cfg = load_config(repo)
        ws = Workspace.discover(repo)
        spec_times = measure(lambda: spec_for_workspace(ws, cfg), max(10, args.runs // 5))
        spec = spec_for_workspace(ws, cfg)
        env = {"PATH": "/usr/bin:/bin"}
        bare = measure(lambda: run_process(["true"], env=env, cwd=str(repo), timeout_s=30, output_cap=65536), args.runs)
        base_med = statistics.median(bare)
        lines = [
            f"machine: {platform.platform()}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
            f"uid {os.getuid()}, runs {args.runs}",
            "",
            "| what | median | p90 | overhead over bare |",
            "|---|---|---|---|",
            row("bare `true` through run_process", bare, None),
        ]
        for tier in args.tiers.split(","):
            try:
                sb = select_sandbox(tier, allow_unsandboxed=True)
            except SandboxUnavailable as e:
                lines.append(f"| {tier} | unavailable: {e} | | |")
                continue
            r = sb.run(["true"], spec)
            assert r.exit_code == 0, r.output
            times = measure(lambda sb=sb: sb.run(["true"], spec), args.runs)
            lines.append(row(f"{tier}: `Sandbox.run(['true'])`", times, base_med))
        lines.append(row("spec_for_workspace (the agent builds one per command)", spec_times, None))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
