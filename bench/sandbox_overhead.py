"""Per-command overhead of each sandbox tier over a bare spawn of ``true``, through the agent's own runner.

Usage: ``python bench/sandbox_overhead.py [--runs N] [--tiers bwrap,landlock,none] [--history]``

"bare" is :func:`codeward.sandbox.runner.run_process` on ``true`` (what running a command costs
with no sandbox at all: spawn, pipe, wait). Each tier row is ``Sandbox.run(["true"], spec)`` on a
realistic workspace (a git repository with AGENTS.md, an ignore file, ``.env`` and a nested repo),
so it includes everything a command pays: layout decisions, the seccomp build, bwrap or the
launcher, limits, the protected-path census and cleanup. Building the spec (``Project.sandbox_spec``,
which the agent does before each command) is its own line.

``--history`` adds rows for a repository whose history holds a secret (an old commit of ``.env``),
with the project's spec, so each tier also shows the object-store view: bubblewrap binds it,
Landlock holds the real store out and links its forged store in. The first command pays the view's
build (a repack of the store), shown on its own; the rows after it reuse the view.
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
    ap.add_argument("--history", action="store_true", help="also time a repository whose history holds a secret")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["CODEWARD_HOME"] = str(base / "cwhome")
        (base / "cwhome").mkdir()
        from codeward.errors import SandboxUnavailable
        from codeward.project import open_project
        from codeward.sandbox import select_sandbox
        from codeward.sandbox.runner import run_process

        repo = make_repo(base)
        project = open_project(repo, None)
        spec_times = measure(project.sandbox_spec, max(10, args.runs // 5))
        spec = project.sandbox_spec()
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
        lines.append(row("`Project.sandbox_spec()` (the agent builds one per command)", spec_times, None))
        if args.history:
            lines += history_rows(base, args.tiers.split(","), args.runs, base_med)
    print("\n".join(lines))
    return 0


def history_rows(base: Path, tiers: list[str], runs: int, base_med: float) -> list[str]:
    """Each tier on a repository whose history holds a secret: the first command (view built) and the rest."""
    from codeward.errors import SandboxUnavailable
    from codeward.project import open_project
    from codeward.sandbox import select_sandbox

    repo = base / "leaky"
    repo.mkdir()
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@e"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    for i in range(200):
        (repo / f"m{i}.py").write_text(f"x = {i}\n" * 50)
    (repo / ".env").write_text("AWS_SECRET_ACCESS_KEY=Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4\n")
    subprocess.run([*git, "add", "-A", "-f"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=repo, check=True)
    subprocess.run([*git, "rm", "-q", "--cached", ".env"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "two"], cwd=repo, check=True)
    out = ["", "with a history that holds a secret (the object-store view):", ""]
    for tier in tiers:
        if tier == "none":
            continue
        try:
            sb = select_sandbox(tier)
        except SandboxUnavailable as e:
            out.append(f"| {tier} | unavailable: {e} | | |")
            continue
        spec = open_project(repo, None).sandbox_spec()
        t = time.perf_counter()
        r = sb.run(["git", "show", "HEAD~1:.env"], spec)
        first = (time.perf_counter() - t) * 1000
        assert "hidden" in r.output, r.output
        times = measure(lambda sb=sb, spec=spec: sb.run(["true"], spec), runs)
        out.append(f"| {tier}: first command (view built) | {first:.1f} ms | | |")
        out.append(row(f"{tier}: `Sandbox.run(['true'])` with the view", times, base_med))
    return out


if __name__ == "__main__":
    sys.exit(main())
