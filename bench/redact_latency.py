#!/usr/bin/env python3
"""Redaction latency for 16 KB prompts: p50/p95/p99/max over many prompts.

    python bench/redact_latency.py [--prompts 2000]

Prompts are 16 KB slices of CPython stdlib sources (what an agent sends: code), every tenth one
with a few planted secrets so the replacement path is measured too. One Redactor (one session)
handles them all, after a warm-up, as the gate would.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import sysconfig
import time
from pathlib import Path

PROMPT = 16 * 1024
PLANTED = (
    "\nAWS_ACCESS_KEY_ID=AKIAZ7Q2LMKD3XUVWB4N\n"
    "token = 'ghp_q8Vz2LkP0wR4tY6uI8oPa1sD3fG5hJ7kL9zX'\n"
    "DATABASE_URL=postgres://app:Tr0ub4dor-x9@db.internal/prod\n"
)


def prompts(n: int) -> list[str]:
    src = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    for p in sorted(src.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        text = p.read_text(encoding="utf-8", errors="replace")
        for i in range(0, max(1, len(text) - PROMPT), PROMPT):
            chunk = text[i : i + PROMPT]
            if len(out) % 10 == 0:
                chunk = chunk[: PROMPT - len(PLANTED)] + PLANTED
            out.append(chunk)
            if len(out) == n:
                return out
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=2000)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from codeward.privacy.redact import Redactor
    from codeward.privacy.scanner import load_scanner

    ps = prompts(args.prompts)
    red = Redactor(load_scanner())
    print(
        f"{len(ps)} prompts of {PROMPT // 1024} KB; machine: {os.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}"
    )
    # pass 1 meets every prompt for the first time (RE2 builds its DFA states lazily: a session's
    # first prompts pay for it); pass 2 is a session that has been running for a while
    for label in ("first pass (cold)", "second pass (warm)"):
        times = []
        replaced = 0
        for p in ps:
            t = time.perf_counter()
            r = red.redact(p)
            times.append(time.perf_counter() - t)
            replaced += r.total
        times.sort()

        def pct(q: float, times: list[float] = times) -> float:
            return times[min(len(times) - 1, int(q * len(times)))] * 1000

        print(
            f"{label}: p50 {pct(0.5):.2f} ms  p95 {pct(0.95):.2f} ms  p99 {pct(0.99):.2f} ms  "
            f"max {times[-1] * 1000:.2f} ms  ({replaced} values replaced)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
