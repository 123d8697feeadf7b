#!/usr/bin/env python3
"""Secret-scan throughput on the CPython standard library, beside detect-secrets 1.5.0.

    python bench/scan_speed.py [--ds PATH/TO/detect-secrets] [--install-ds] [--runs 3]

Measures, on the same bytes:
  1. the scanner alone, in this process, one core (Scanner.scan over every text file);
  2. ``codeward scan --format json DIR`` as a whole process (start-up, walk, read, workers), best of N;
  3. ``detect-secrets scan --all-files -n`` in the same directory (a separate venv under /tmp;
     ``--install-ds`` creates it with pip), once: it is two orders of magnitude slower.
The stdlib is copied once to /tmp/cw-bench-stdlib without site-packages and caches, so every tool
sees exactly the same tree. Prints a Markdown table and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

CORPUS = Path("/tmp/cw-bench-stdlib")
DS_VENV = Path("/tmp/cw-bench-ds")


def build_corpus() -> Path:
    if not CORPUS.is_dir():
        src = Path(sysconfig.get_paths()["stdlib"])
        shutil.copytree(
            src,
            CORPUS,
            symlinks=True,
            ignore=shutil.ignore_patterns("site-packages", "__pycache__", "config-*", "*.pyc"),
        )
    return CORPUS


def text_files(root: Path) -> list[tuple[str, bytes]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or os.path.getsize(p) > 8 << 20:
                continue
            data = Path(p).read_bytes()
            if b"\0" not in data[:8192]:
                out.append((p, data))
    return out


def machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ds", help="detect-secrets executable")
    ap.add_argument("--install-ds", action="store_true", help=f"create {DS_VENV} with detect-secrets 1.5.0")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from codeward.privacy.scanner import load_scanner

    root = build_corpus()
    files = text_files(root)
    total = sum(len(d) for _, d in files)
    mb = total / 1e6

    t = time.perf_counter()
    scanner = load_scanner()
    load_s = time.perf_counter() - t
    best = float("inf")
    findings = 0
    for _ in range(args.runs):
        t = time.perf_counter()
        findings = sum(len(scanner.scan(d.decode("utf-8", "replace"), path=p)) for p, d in files)
        best = min(best, time.perf_counter() - t)

    whole = float("inf")
    cw_findings = 0
    for _ in range(args.runs):
        t = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-m", "codeward", "scan", "--format", "json", str(root)], capture_output=True, text=True
        )
        whole = min(whole, time.perf_counter() - t)
        cw_findings = len(json.loads(p.stdout))

    ds = args.ds
    if not ds and args.install_ds and not (DS_VENV / "bin" / "detect-secrets").exists():
        subprocess.run([sys.executable, "-m", "venv", str(DS_VENV)], check=True)
        subprocess.run([str(DS_VENV / "bin" / "pip"), "install", "-q", "detect-secrets==1.5.0"], check=True)
    if not ds and (DS_VENV / "bin" / "detect-secrets").exists():
        ds = str(DS_VENV / "bin" / "detect-secrets")
    ds_row = ""
    if ds:
        t = time.perf_counter()
        p = subprocess.run([ds, "scan", "--all-files", "-n", "."], cwd=root, capture_output=True, text=True)
        ds_s = time.perf_counter() - t
        ds_findings = sum(len(v) for v in json.loads(p.stdout)["results"].values())
        ds_row = f"| detect-secrets 1.5.0, whole process | {ds_s:.2f} s | {mb / ds_s:.2f} MB/s | {ds_findings} |\n"

    print(f"corpus: CPython {platform.python_version()} stdlib, {len(files)} text files, {mb:.1f} MB")
    print(f"machine: {machine()}\n")
    print("| scanner | time | throughput | findings |")
    print("|---|---|---|---|")
    print(f"| codeward Scanner.scan, in process, 1 core | {best:.2f} s | {mb / best:.1f} MB/s | {findings} |")
    print(f"| codeward scan --format json, whole process | {whole:.2f} s | {mb / whole:.1f} MB/s | {cw_findings} |")
    sys.stdout.write(ds_row)
    print(f"\nrule set load + compile: {load_s * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
