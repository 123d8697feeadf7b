"""Start-up cost of the CLI: median wall time of ``codeward --help`` against a bare interpreter.

usage: python bench/startup.py [--runs N] [CODEWARD_EXECUTABLE]

Goal (issue 2 and the start-up contract check): under 150 ms, and within 5x of ``python -c pass``
on the same interpreter. Other commands are shown for context: they import click and their own
module only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_ms(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument(
        "codeward", nargs="?", default=shutil.which("codeward") or str(Path(sys.executable).parent / "codeward")
    )
    a = ap.parse_args()
    python = str(Path(a.codeward).resolve().parent / "python")
    base = median_ms([python, "-c", "pass"], a.runs)
    print(f"python -c pass            {base:6.1f} ms")
    for args in (["--help"], ["--version"], ["exec", "--help"], ["scan", "--help"]):
        ms = median_ms([a.codeward, *args], a.runs)
        print(f"codeward {' '.join(args):<16} {ms:6.1f} ms  ({ms / base:.1f}x bare)")


if __name__ == "__main__":
    main()
