#!/usr/bin/env python3
"""What issue 11's scan additions cost the workspace scan: unpacking, wider strings, names and xattrs.

    python bench/unpack_scan.py [TREE] [--skip-tree] [--skip-archives] [--carving]

TREE (default: this repository's ``.venv``) is walked by ``WorkspaceSecrets.refresh`` three ways:
as before issue 11 (strings in ASCII and UTF-16LE only, no names, attributes or new formats), with
the new strings and unpacking, and with names, link targets and ``user.*`` attributes on top; then
a refresh with nothing changed and the sweep for three known values (which now walks the names
too). Printed too: the directories and entries hidden for a name or attribute, and the files found
unscannable, which on a clean venv must be none. Then synthetic archives in a temporary directory:
20 gzip files that inflate to just under the 8 MiB budget (the red team's 21 s case), 20 that go
over it (bombs: rejected at the budget), zips nested 5 deep, and ``printable_strings`` old and new
on the tree's largest binary.

``--carving`` measures only what carving (streams at any offset, PDF filters by token) adds: the
tree's first walk with it switched off and on (no sweep), the files it found unscannable or read
payloads in, and synthetic cases: the tree's largest binary under the 8 MiB read limit, a PNG whose
single IDAT inflates past the budget, and a file of nothing but zlib-looking pairs.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

KNOWN = [
    ("Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4", "aws-secret-access-key"),
    ("ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg", "github-pat"),
    ("AKIAZ7Q2LMKD3XUVWB4N", "aws-access-key-id"),
]
_ASCII = re.compile(rb"[\t\x20-\x7e]{8,}")
_U16 = re.compile(rb"[\t\x20-\x7e]\x00(?:[\t\x20-\x7e]\x00){7,}")


def old_strings(data: bytes) -> list[str]:
    """``printable_strings`` before issue 11: ASCII and UTF-16LE runs."""
    return [m.group().decode() for m in _ASCII.finditer(data)] + [
        m.group().decode("utf-16-le") for m in _U16.finditer(data)
    ]


def old_payloads(data: bytes, budget: Any) -> Iterator[bytes]:
    """Unpacking before issue 11: a gzip's first member and a zip's members, one level, truncated."""
    import zlib

    if data[:2] == b"\x1f\x8b":
        try:
            yield zlib.decompressobj(31).decompress(data, 8 << 20)
        except zlib.error:
            return
    elif data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if not info.is_dir():
                        with z.open(info) as m:
                            yield m.read(8 << 20)
        except Exception:
            return


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def walk_modes(root: Path) -> None:
    from codeward.privacy import contents, learn
    from codeward.privacy.scanner import load_scanner

    scanner = load_scanner()
    # warm-up, not timed: the page cache over the tree, the scanner's and the parsers' first use
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    while f.read(1 << 20):
                        pass
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.conf").write_text("password = hunter2hunter2\n")
        learn.WorkspaceSecrets(Path(tmp), scanner).refresh()
    real_strings, real_payloads = contents.printable_strings, contents.payloads
    real_names, real_xattrs = learn.WorkspaceSecrets._scan_names, learn.WorkspaceSecrets._add_xattrs
    rows = []
    for mode in ("before", "formats", "formats+names"):
        contents.printable_strings = old_strings if mode == "before" else real_strings  # type: ignore[assignment]
        contents.payloads = old_payloads if mode == "before" else real_payloads  # type: ignore[assignment]
        if mode == "formats+names":
            learn.WorkspaceSecrets._scan_names = real_names  # type: ignore[method-assign]
            learn.WorkspaceSecrets._add_xattrs = real_xattrs  # type: ignore[method-assign]
        else:
            learn.WorkspaceSecrets._scan_names = lambda self, names: []  # type: ignore[method-assign,assignment]
            learn.WorkspaceSecrets._add_xattrs = lambda self, names, path: None  # type: ignore[method-assign]
        learner = learn.WorkspaceSecrets(root, scanner)
        first = timed(learner.refresh)
        learner.wait_sweep()  # the background sweep of the values found must not share the next timing
        again = timed(learner.refresh)
        sweep = timed(lambda learner=learner: learner.sweep(KNOWN))  # type: ignore[misc]
        rows.append((mode, first, again, sweep, len(learner.secret_paths()), learner))
    for mode, first, again, sweep, marked, _ in rows:
        print(f"| {mode} | {first:.1f} s | {again * 1000:.0f} ms | {sweep:.1f} s | {marked} |")
    last = rows[-1][5]
    from codeward.privacy.known import KnownValues

    known = KnownValues()
    known.add_all(KNOWN)

    def names_part() -> None:  # every entry, as a sweep for a value no sweep cleared anything for
        from codeward.privacy.names import NameBatch

        batch = NameBatch()
        for path, stamp in last._stamps.items():
            last._sweep_entry(batch, path, stamp)
        last._sweep_names(batch, known.find)

    print(f"the sweep's part for names and attributes: {timed(names_part):.2f} s")
    print("hidden for a name or attribute:", sorted(last.hidden_entries()) or "none")
    print("unscannable:", last.unscannable or "none")
    contents.printable_strings, contents.payloads = real_strings, real_payloads  # type: ignore[assignment]
    learn.WorkspaceSecrets._scan_names, learn.WorkspaceSecrets._add_xattrs = real_names, real_xattrs  # type: ignore[method-assign]


def largest_binary(root: Path) -> Path | None:
    best: tuple[int, Path] | None = None
    for d, _, names in os.walk(root):
        for n in names:
            p = Path(d) / n
            if n.endswith(".so") and not p.is_symlink():
                size = p.stat().st_size
                if best is None or size > best[0]:
                    best = (size, p)
    return best[1] if best else None


def archives(tmp: Path) -> None:
    from codeward.privacy.learn import WorkspaceSecrets
    from codeward.privacy.scanner import load_scanner
    from codeward.privacy.unpack import MAX_INFLATED

    scanner = load_scanner()
    line = b"2026-12-05 10:00:00 INFO request served in 12 ms from cache, nothing secret here\n"
    under = (line * (MAX_INFLATED // len(line)))[: MAX_INFLATED - 4096]
    cases: dict[str, Callable[[Path], None]] = {
        "20 gzip files inflating to 8 MiB - 4 KiB (log text)": lambda d: (
            [(d / f"log{i}.gz").write_bytes(gzip.compress(under, 6)) for i in range(20)] and None
        ),
        "20 gzip bombs, 64 MiB of zeros each (rejected at the budget)": lambda d: (
            [(d / f"bomb{i}.gz").write_bytes(gzip.compress(b"\0" * (64 << 20), 9)) for i in range(20)] and None
        ),
        "a zip nested 5 deep (rejected at depth 4)": lambda d: (d / "deep.zip").write_bytes(_nested(5)),
    }
    for label, make in cases.items():
        d = tmp / re.sub(r"\W+", "-", label)[:20]
        d.mkdir()
        make(d)
        learner = WorkspaceSecrets(d, scanner)
        took = timed(learner.refresh)
        print(
            f"| {label} | {took:.2f} s | {len(learner.secret_paths())} hidden, {len(learner.unscannable)} unscannable |"
        )


def _nested(depth: int) -> bytes:
    data = b"nothing secret\n"
    for i in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"level{i}", data)
        data = buf.getvalue()
    return data


def _no_carving() -> Callable[[], None]:
    """Switch carving off (the unpacker of before: formats at offset 0 only); returns the undo."""
    from codeward.privacy import contents, unpack, unpack_pdf

    saved = (unpack.carve, unpack_pdf.carve, contents.may_hold_stream)

    def none(data: bytes, budget: Any, **how: Any) -> Iterator[bytes]:
        return iter(())

    unpack.carve = none  # type: ignore[assignment]
    unpack_pdf.carve = none  # type: ignore[assignment]
    contents.may_hold_stream = lambda data: False  # type: ignore[assignment]

    def undo() -> None:
        unpack.carve, unpack_pdf.carve, contents.may_hold_stream = saved  # type: ignore[assignment]

    return undo


def carving(root: Path) -> None:
    """The tree walked without and with carving, then the synthetic cases (see the docstring)."""
    import zlib

    from codeward.privacy import contents, learn
    from codeward.privacy.scanner import load_scanner

    scanner = load_scanner()
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: the scanner's and parsers' first use
        (Path(tmp) / "a.conf").write_text("password = hunter2hunter2\n")
        learn.WorkspaceSecrets(Path(tmp), scanner).refresh()
    print("| carving | first walk | files marked | unscannable |")
    for mode in ("off", "on"):
        undo = _no_carving() if mode == "off" else (lambda: None)
        try:
            learner = learn.WorkspaceSecrets(root, scanner)
            took = timed(learner.refresh)
            learner.wait_sweep()
        finally:
            undo()
        print(f"| {mode} | {took:.1f} s | {len(learner.secret_paths())} | {len(learner.unscannable)} |")
        for path, why in sorted(learner.unscannable.items()):
            print(f"  unscannable: {path}: {why}")
    sizes = [
        (p.stat().st_size, p)
        for d, _, names in os.walk(root)
        for p in (Path(d) / n for n in names)
        if p.is_file() and not p.is_symlink() and p.stat().st_size <= learn.MAX_FILE_BYTES
    ]
    if sizes:
        size, big = max(sizes)
        data = big.read_bytes()
        undo = _no_carving()
        off = timed(lambda: contents.contents(data))
        undo()
        got: list[Any] = []
        on = timed(lambda: got.append(contents.contents(data)))
        print(
            f"contents() of {big.name} ({size / 1e6:.1f} MB): {off:.2f} s without carving, {on:.2f} s with "
            f"(unscannable: {got[0].unscannable})"
        )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", bytes(13))
        + chunk(b"IDAT", zlib.compress(bytes(40 << 20)))
        + chunk(b"IEND", b"")
    )
    got = []
    t = timed(lambda: got.append(contents.contents(png)))
    print(f"a PNG of one IDAT inflating to 40 MiB: {t:.2f} s, unscannable: {got[0].unscannable}")
    pairs = b"\x01" + b"\x78\x9c\x03" * ((8 << 20) // 3)
    got = []
    t = timed(lambda: got.append(contents.contents(pairs)))
    print(f"8 MiB of zlib-looking pairs: {t:.2f} s, unscannable: {got[0].unscannable}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tree", nargs="?", default=str(Path(__file__).resolve().parents[1] / ".venv"))
    ap.add_argument("--skip-tree", action="store_true")
    ap.add_argument("--skip-archives", action="store_true")
    ap.add_argument("--carving", action="store_true", help="only what carving adds (see the docstring)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from codeward.textenc import printable_strings

    root = Path(args.tree)
    print(
        f"machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )
    if args.carving:
        print(f"tree {root}")
        carving(root)
        print(f"load after: {os.getloadavg()[0]:.1f}")
        return 0
    if not args.skip_tree:
        print(f"tree {root}")
        print("| scan | first walk | refresh, nothing changed | sweep, 3 values | files marked |")
        walk_modes(root)
        big = largest_binary(root)
        if big is not None:
            data = big.read_bytes()
            print(
                f"strings of {big.name} ({len(data) / 1e6:.0f} MB): old {timed(lambda: old_strings(data)):.2f} s, "
                f"new {timed(lambda: printable_strings(data)):.2f} s"
            )
    if not args.skip_archives:
        with tempfile.TemporaryDirectory(prefix="cw-bench-unpack-") as tmp:
            archives(Path(tmp))
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
