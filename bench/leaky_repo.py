#!/usr/bin/env python3
"""Recall of ``codeward scan`` on the public leaky-repository benchmark (Plazmaz/leaky-repo).

    python bench/leaky_repo.py PATH/TO/leaky-repo [--codeward PATH] [--show]

The checkout is an argument because CI has no network; this is a benchmark, not a test (the tests
keep the project's own golden cases in tests/privacy/cases/). Get a checkout with
``git clone https://github.com/Plazmaz/leaky-repo`` (or ``git archive HEAD | tar -x`` from a mirror).

The answer key is the repository's own ``.leaky-meta/secrets.csv``: per file, the number of lines
holding a risk and the number holding only informative data. Scoring, per file of the key:

* risky file found: the file has a risk count above 0 and codeward reports at least one line in it;
* risky lines found: ``min(lines reported, risk count)``;
* findings beyond the key: ``max(0, lines reported - (risk + informative))``, plus every line
  reported in a file the key does not list (its README, LICENSE...). This is the key's own
  benchmark.py definition of a false positive, counted in distinct lines.

``.leaky-meta/`` itself (the benchmark's scripts) is not scanned.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def read_key(root: Path) -> dict[str, tuple[int, int]]:
    """``{path: (risk lines, informative lines)}`` from the repository's answer key."""
    rows = []
    for raw in (root / ".leaky-meta" / "secrets.csv").read_text().splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            rows.append(raw)
    return {r[0]: (int(r[1]), int(r[2])) for r in csv.reader(rows)}


def scan(root: Path, codeward: str) -> tuple[dict[str, set[int]], list[dict[str, object]], float]:
    """Run ``codeward scan --format json`` on every top-level entry but .leaky-meta and .git."""
    targets = sorted(str(p) for p in root.iterdir() if p.name not in {".leaky-meta", ".git"})
    t0 = time.perf_counter()
    proc = subprocess.run([codeward, "scan", "--format", "json", *targets], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"codeward scan failed ({proc.returncode}): {proc.stderr.strip()}")
    findings = json.loads(proc.stdout)
    lines: dict[str, set[int]] = {}
    for f in findings:
        rel = os.path.relpath(str(f["path"]), root)
        lines.setdefault(rel, set()).add(int(f["line"]))  # type: ignore[call-overload]
    return lines, findings, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout", type=Path, help="a checkout of github.com/Plazmaz/leaky-repo")
    ap.add_argument("--codeward", default=shutil.which("codeward") or "codeward", help="the codeward executable")
    ap.add_argument("--show", action="store_true", help="list each file of the key with what was found")
    args = ap.parse_args()
    root: Path = args.checkout.resolve()
    if not (root / ".leaky-meta" / "secrets.csv").is_file():
        sys.exit(f"{root}: no .leaky-meta/secrets.csv here; pass a checkout of Plazmaz/leaky-repo")
    key = read_key(root)
    found, findings, elapsed = scan(root, args.codeward)

    risky = {p: r for p, (r, _) in key.items() if r > 0}
    files_hit = sum(1 for p in risky if found.get(p))
    lines_hit = sum(min(len(found.get(p, ())), r) for p, r in risky.items())
    beyond = 0
    rows = []
    for p, (r, i) in sorted(key.items()):
        n = len(found.get(p, ()))
        extra = max(0, n - (r + i))
        beyond += extra
        rows.append((p, r, i, n, extra))
    outside = {p: len(v) for p, v in found.items() if p not in key}
    beyond += sum(outside.values())

    if args.show:
        print(f"{'file':45} risk info found beyond")
        for p, r, i, n, extra in rows:
            mark = "" if (n or not r) else "  <- missed"
            print(f"{p:45} {r:4} {i:4} {n:5} {extra:6}{mark}")
        for p, n in sorted(outside.items()):
            print(f"{p:45} {'-':>4} {'-':>4} {n:5} {n:6}  (not in the key)")
        print()
    print(f"risky files found: {files_hit} of {len(risky)}")
    print(f"risky lines found: {lines_hit} of {sum(risky.values())}")
    print(f"findings beyond the key: {beyond}")
    print(f"findings reported: {len(findings)}; scan took {elapsed:.2f} s (whole process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
