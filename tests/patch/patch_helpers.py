"""Helpers shared by the patch tests."""

from __future__ import annotations

import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (path -> bytes) and directory (path + "/" -> None) under ``root``; links as "-> target"."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for name in [*dirnames, *filenames]:
            p = d / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = b"-> " + os.readlink(p).encode()
            elif p.is_dir():
                out[rel + "/"] = None
            elif p.is_file():
                out[rel] = p.read_bytes()
            else:
                out[rel] = b"<special file>"  # never open a FIFO: it would block
    return out
