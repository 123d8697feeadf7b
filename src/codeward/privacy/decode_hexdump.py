"""The bytes of hex dumps in the layouts the usual tools write, for the scanner to decode.

``xxd -p`` output is one run of hex digits, which :mod:`codeward.privacy.decode` reads already. The
other layouts put offsets, spaces, commas, prefixes or an ASCII column between the digits, and a
secret in the dump is then split across lines in the ASCII column too, so no rule sees it whole
(red team rt9: ``xxd dump.txt`` reversed with ``xxd -r``). Each layout is recognised by its own
line shape, consecutive lines of one layout are joined, and their hex digits alone make the bytes:

* ``xxd``: ``00000010: 4157 535f ...  AWS_...``; ``hexdump -C``: ``00000010  41 57 53 ...  |AWS...|``;
* ``od -An -tx1`` and ``od -tx1`` (an octal offset first); byte lists with spaces or colons;
* ``xxd -i``: ``0x41, 0x57, ...``; C and Python string escapes: ``\\x41\\x57...`` (on one line).

Pure: bytes in, ``(start, end, raw bytes)`` out; what the bytes are judged as is the caller's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

MIN_BYTES = 16
"""Bytes a dump must hold to be read (a MAC address or a short id is no dump)."""

_LINES = (
    # xxd's default: an offset, groups of up to four digits, two spaces and the ASCII column
    rb"[0-9a-fA-F]{7,16}: ((?:[0-9a-fA-F]{2,4} ){1,16}) *[^\n]*",
    # hexdump -C: an offset, pairs (two spaces in the middle), the ASCII column between bars
    # (its last, short line pads the pairs with spaces up to the column: red team rt16)
    rb"[0-9a-fA-F]{7,16}  ((?:[0-9a-fA-F]{2}  ?){1,32}) *(?:\|[^\n]*\|)?",
    # od -tx1 (an octal offset) and od -An -tx1 (none): pairs each after one space
    rb"(?:[0-7]{7})?((?: [0-9a-fA-F]{2}){1,64})",
    # byte lists: pairs with spaces or colons between them
    rb"[ \t]*((?:[0-9a-fA-F]{2}[ :]){3,}[0-9a-fA-F]{2})[ \t]*",
    # xxd -i: 0x41, 0x57, ...
    rb"[ \t]*((?:0[xX][0-9a-fA-F]{2}, ?){3,}(?:0[xX][0-9a-fA-F]{2})?,?)[ \t]*",
)
_LINE = tuple(re.compile(line) for line in _LINES)
_RUN = rb"(?m)^(?:%s\r?\n)+"
_ESCAPES = rb"(?:\\x[0-9a-fA-F]{2}){%d,}" % MIN_BYTES
_DIGITS = re.compile(rb"(?:0[xX]|\\x)?([0-9a-fA-F]{2})")
_HINT = rb"(?:(?:0[xX])?[0-9a-fA-F]{2}[ :,] ?){4}|[0-9a-fA-F]{4} [0-9a-fA-F]{4} |\\x[0-9a-fA-F]{2}\\x"
"""Four pairs with separators, two xxd groups, or two escapes in a row: a file without one holds no
dump, and is not searched further."""


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[Any, Any, tuple[Any, ...]]:
    """The hint, the escapes and each layout's runs of lines, in RE2 (linear time: Python's ``re``
    took 5.5 s over CPython's standard library for the hint alone, trying it at every byte)."""
    import re2

    opts = re2.Options()
    opts.max_mem = 16 << 20
    opts.log_errors = False
    runs = tuple(re2.compile(_RUN % line, opts) for line in _LINES)
    return re2.compile(_HINT, opts), re2.compile(_ESCAPES, opts), runs


def hexdump_blobs(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, bytes) for each run of dump lines of one layout, and each escaped string."""
    hint, escapes, all_runs = _compiled()
    if not hint.search(data):
        return
    for m in escapes.finditer(data):
        yield m.start(), m.end(), bytes.fromhex(m.group().replace(b"\\x", b"").decode("ascii"))
    size = len(data)
    if not data.endswith(b"\n"):
        data += b"\n"  # a dump's last line without one (the spans stay within the data)
    taken: list[tuple[int, int]] = []
    for line, runs in zip(_LINE, all_runs, strict=True):
        for m in runs.finditer(data):
            s, e = m.start(), min(m.end(), size)
            if any(ts <= s < te for ts, te in taken):
                continue  # the lines of a dump another layout read
            groups = [g.group(1) for g in (line.fullmatch(ln.rstrip(b"\r")) for ln in m.group().split(b"\n")) if g]
            got = list(_joined(groups, s, e))
            if got:
                taken.append((s, e))
                yield from got


def _joined(groups: list[bytes], start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    raw = bytes.fromhex(b"".join(m.group(1) for g in groups for m in _DIGITS.finditer(g)).decode("ascii"))
    if len(raw) >= MIN_BYTES:
        yield start, end, raw
