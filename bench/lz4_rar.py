#!/usr/bin/env python3
"""LZ4 read and RAR hidden anywhere in a file: decoder speed, real archives, false hides.

    python bench/lz4_rar.py [--rar-dir DIR] [TREE ...]

1. The pure-Python LZ4 decoder (``privacy/unpack_lz4.py``) on text compressed by the real ``lz4``
   program at its default and ``-9`` levels, up to the 8 MiB budget a file may unpack to: thread
   CPU per MiB decoded, against the 2 s budget.
2. ``--rar-dir``: every ``*.rar`` there (real archives: for example the test files of the
   ``rarfile`` sdist, ``pip download --no-binary :all: --no-deps rarfile==4.2``) put after 400 bytes of
   other data, carved: how many hide the file (RAR 1.5 to 5, comments, locked, encrypted headers).
   CI has no RAR program and the tests build headers from the format's documentation, so this is
   where the code meets real archives.
3. Each TREE (default: ``/usr/lib/x86_64-linux-gnu`` and this repository's ``.venv``): every file of
   at most 64 MiB read by ``contents()``; the files an LZ4 or RAR candidate hid (ordinary binaries,
   ``liblz4`` and ``libarchive`` with the magics as constants, must be none).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from codeward.privacy.contents import contents
from codeward.privacy.unpack_base import Budget, Unscannable
from codeward.privacy.unpack_carve import carve
from codeward.privacy.unpack_lz4 import frame


def decoder_speed() -> None:
    if shutil.which("lz4") is None:
        print("no lz4 program: decoder speed skipped")
        return
    lines = (
        f"{i:>7} INFO request /api/v1/items/{i * 7919 % 100003} took {i % 97} ms user={i % 13}\n" for i in range(10**6)
    )
    text = "".join(lines).encode()[: 8 << 20]
    for level in ("-1", "-9"):
        data = subprocess.run(["lz4", "-q", "-c", level], input=text, capture_output=True, check=True).stdout
        start = time.thread_time()
        got = frame(data, 0, Budget(max_bytes=16 << 20, cpu_seconds=60))
        took = time.thread_time() - start
        assert got is not None and got[0] == text
        mib = len(text) / (1 << 20)
        print(
            f"lz4 {level}: {len(data) / (1 << 20):.1f} MiB -> {mib:.1f} MiB in {took:.2f} s CPU ({took / mib * 1000:.0f} ms/MiB)"
        )


def rar_archives(folder: Path) -> None:
    hid = missed = 0
    for path in sorted(folder.rglob("*.rar")):
        data = os.urandom(400) + path.read_bytes()
        try:
            for _ in carve(data, Budget()):
                pass
            missed += 1
            print("  not hidden:", path.name)
        except Unscannable as e:
            hid += "RAR" in str(e)
    print(f"RAR archives after other bytes: {hid} hidden, {missed} not (of {hid + missed})")


def false_hides(tree: Path) -> None:
    files = hidden = 0
    start = time.process_time()
    for dirpath, _, names in os.walk(tree):
        for name in names:
            path = os.path.join(dirpath, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 64 << 20:
                    continue
                data = Path(path).read_bytes()
            except OSError:
                continue
            files += 1
            why = contents(data).unscannable
            if why and ("lz4" in why or "RAR" in why):
                hidden += 1
                print("  hidden:", path, why)
    print(f"{tree}: {files} files, {hidden} hidden by an LZ4 or RAR candidate, {time.process_time() - start:.1f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rar-dir", type=Path)
    ap.add_argument("trees", nargs="*", type=Path)
    args = ap.parse_args()
    print(f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    decoder_speed()
    if args.rar_dir:
        rar_archives(args.rar_dir)
    root = Path(__file__).resolve().parents[1]
    for tree in args.trees or [Path("/usr/lib/x86_64-linux-gnu"), root / ".venv"]:
        false_hides(tree)


if __name__ == "__main__":
    main()
