#!/usr/bin/env python3
"""What scanning binary files costs the workspace scan: a tree full of libraries (a venv).

    python bench/binary_scan.py [TREE] [--skip-binaries]

TREE defaults to this repository's ``.venv``. The first walk (``WorkspaceSecrets.refresh``) and the
sweep for three known values are timed; ``--skip-binaries`` emulates the old scan, which skipped
every file with a NUL in its first 8 KiB. Also printed: the binaries marked as holding a secret
(each is hidden from commands, so on a clean venv this list must be empty or explained).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

KNOWN = [
    ("Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4", "aws-secret-access-key"),
    ("ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg", "github-pat"),
    ("AKIAZ7Q2LMKD3XUVWB4N", "aws-access-key-id"),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tree", nargs="?", default=str(Path(__file__).resolve().parents[1] / ".venv"))
    ap.add_argument("--skip-binaries", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from codeward.privacy import learn
    from codeward.privacy.scanner import load_scanner
    from codeward.textenc import detect

    if args.skip_binaries:
        real = learn._texts

        def text_only(path: str, size: int) -> object:
            with open(path, "rb") as f:
                if b"\0" in f.read(8192):
                    return (), True
            return real(path, size)

        learn._texts = text_only  # type: ignore[assignment]
    root = Path(args.tree)
    files = binaries = size = 0
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            files += 1
            size += os.path.getsize(p)
            with open(p, "rb") as f:
                binaries += detect(f.read(8192)) is None
    print(
        f"{root}: {files} files ({size / 1e6:.0f} MB), {binaries} binary; machine: {os.cpu_count()} cores, "
        f"{platform.system()}, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    scanner = load_scanner()
    learner = learn.WorkspaceSecrets(root, scanner)
    t = time.perf_counter()
    learner.refresh()
    walk = time.perf_counter() - t
    learner.wait_sweep()
    t = time.perf_counter()
    learner.sweep(KNOWN)
    sweep = time.perf_counter() - t
    marked = sorted(learner.secret_paths())
    with_nul = []
    for p in marked:
        with open(p, "rb") as f:
            if detect(f.read(8192)) is None:
                with_nul.append(os.path.relpath(p, root))
    print(f"first walk {walk:.1f} s, sweep for {len(KNOWN)} values {sweep:.1f} s; {len(marked)} files marked")
    print(f"binaries marked (hidden from commands): {len(with_nul)}")
    for p in with_nul[:20]:
        print("  ", p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
