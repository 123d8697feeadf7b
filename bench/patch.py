"""Cost of apply_patch: parsing and planning (pure), and the all-or-nothing write.

usage: python bench/patch.py [--lines N] [--hunks N] [--files N] [--repeat N]

1. Planning a patch of ``--hunks`` hunks (3 lines of context each) against one ``--lines``-line
   file: with exact context, with context whose indentation differs (found by the third pass),
   and a hunk that matches nowhere (every pass scans the rest of the file before the error).
2. Applying a patch that updates ``--files`` files of ~2 KB (verify, stage + fsync, rename with a
   backup, fsync the directories), next to ``git apply`` of the same change as a unified diff
   (one process, no fsync, no backups) as a reference point.
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from codeward.patch import PatchError, apply_changes, parse_patch, plan_patch, workspace_reader
from codeward.workspace import Workspace


def source_file(n: int) -> list[str]:
    """A Python-looking file of ``n`` lines, with plenty of repeated lines (as real code has)."""
    out: list[str] = []
    i = 0
    while len(out) < n:
        out += [
            f"def function_{i}(value):",
            "    result = compute(value)",
            f"    log('step {i}')",
            "    return result",
            "",
        ]
        i += 1
    return out[:n]


def update_patch(path: str, lines: list[str], hunks: int, *, indent: str = "") -> str:
    """Change the ``log`` line of ``hunks`` evenly spread functions, with 3 lines of context."""
    body = [f"*** Update File: {path}"]
    step = max(1, (len(lines) // 5) // hunks) * 5
    for k in range(hunks):
        at = k * step + 2  # the log line of a function
        if at + 2 >= len(lines):
            break
        body += ["@@", f" {indent}{lines[at - 2]}", f" {indent}{lines[at - 1]}", f"-{indent}{lines[at]}"]
        body += [f"+    log('changed {k}')", f" {indent}{lines[at + 1]}"]
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"])


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def fmt(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"median {statistics.median(times) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def bench_plan(n_lines: int, hunks: int, repeat: int) -> None:
    lines = source_file(n_lines)
    data = ("\n".join(lines) + "\n").encode()
    read = {"big.py": data}.get
    exact = update_patch("big.py", lines, hunks)
    fuzzy = update_patch("big.py", lines, hunks, indent="  ")  # every context line indented differently
    miss = "\n".join(["*** Begin Patch", "*** Update File: big.py", "@@", " no such line", "-x", "*** End Patch"])
    print(f"plan: one {n_lines}-line file ({len(data) / 1024:.0f} KiB), {hunks} hunks")
    print(f"  parse only                     {fmt(timed(lambda: parse_patch(exact), repeat))}")
    print(f"  parse + plan, exact context    {fmt(timed(lambda: plan_patch(parse_patch(exact), read), repeat))}")
    print(f"  parse + plan, fuzzy (3rd pass) {fmt(timed(lambda: plan_patch(parse_patch(fuzzy), read), repeat))}")

    def failing() -> None:
        try:
            plan_patch(parse_patch(miss), read)
        except PatchError:
            return
        raise AssertionError("the missing hunk was found")

    print(f"  a hunk found nowhere (error)   {fmt(timed(failing, repeat))}")


def bench_apply(n_files: int, repeat: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="cw-bench-patch-"))
    try:
        lines = source_file(60)
        original = "\n".join(lines) + "\n"
        patch_parts: list[str] = []
        diff_parts: list[str] = []
        for k in range(n_files):
            one = update_patch(f"pkg/m{k}.py", lines, 3).split("\n")[1:-1]
            patch_parts += one
            new = plan_patch(
                parse_patch("\n".join(["*** Begin Patch", *one, "*** End Patch"])),
                {f"pkg/m{k}.py": original.encode()}.get,
            )[0].new
            assert new is not None
            diff_parts += difflib.unified_diff(
                original.splitlines(True), new.decode().splitlines(True), f"a/pkg/m{k}.py", f"b/pkg/m{k}.py"
            )
        text = "\n".join(["*** Begin Patch", *patch_parts, "*** End Patch"])
        diff = "".join(diff_parts)

        def fresh() -> Path:
            root = base / "ws"
            if root.exists():
                shutil.rmtree(root)
            (root / "pkg").mkdir(parents=True)
            for k in range(n_files):
                (root / f"pkg/m{k}.py").write_text(original)
            return root

        ours: list[float] = []
        write_only: list[float] = []
        no_fsync: list[float] = []
        git: list[float] = []
        for _ in range(repeat):
            root = fresh()
            ws = Workspace(root=root, cwd=root)
            t0 = time.perf_counter()
            changes = plan_patch(parse_patch(text), workspace_reader(ws))
            t1 = time.perf_counter()
            apply_changes(changes, ws)
            t2 = time.perf_counter()
            ours.append(t2 - t0)
            write_only.append(t2 - t1)
            root = fresh()
            ws = Workspace(root=root, cwd=root)
            changes = plan_patch(parse_patch(text), workspace_reader(ws))
            with mock.patch.object(os, "fsync", lambda fd: None):
                t0 = time.perf_counter()
                apply_changes(changes, ws)
                no_fsync.append(time.perf_counter() - t0)
            root = fresh()
            t0 = time.perf_counter()
            subprocess.run(["git", "apply", "-"], input=diff.encode(), cwd=root, check=True)
            git.append(time.perf_counter() - t0)
        print(f"apply: {n_files} files of {len(original)} bytes, 3 hunks each")
        print(f"  codeward read + plan + apply   {fmt(ours)}")
        print(f"  codeward apply_changes only    {fmt(write_only)}")
        print(f"  apply_changes without fsync    {fmt(no_fsync)}")
        print(f"  git apply (process, no fsync)  {fmt(git)}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--hunks", type=int, default=50)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()}")
    bench_plan(args.lines, args.hunks, args.repeat)
    bench_apply(args.files, args.repeat)


if __name__ == "__main__":
    main()
