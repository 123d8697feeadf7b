"""Secrets in what a listing shows rather than what a file holds: names, link targets, xattrs.

``ls``, ``find``, ``readlink`` and ``getfattr`` print a file's name, where a symlink points and a
file's extended attributes; none of them is file content, so the content scan never saw a token
used as a file name (``touch ghp_...``), a link pointing at one (``ln -s "$TOKEN" x``) or one stored
in ``user.*`` attributes (``setfattr -n user.token -v ...``), and ``ls | rev`` carried it to the
model. The learner (:mod:`codeward.privacy.learn`) collects them here while it walks:

* the names and link targets of the entries a walk finds new or changed (the walk's own listing,
  :mod:`codeward.privacy.tree_walk`) are scanned together, one line each; a hit
  hides the directory that *lists* the entry (a name cannot be redacted by a bind mount, and a
  mount over the entry itself leaves its name in the listing), which the redacted view then masks;
* ``user.*`` attribute names and values (the namespace an unprivileged command can set and read)
  are scanned per entry; a hit hides the entry itself (the sandbox's stand-in has no attributes).

The values found become known values, so the gate redacts them wherever else they appear.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from codeward.textenc import printable_strings

XATTR_PREFIX = "user."
MAX_XATTR_BYTES = 64 << 10
"""Read of each attribute value (the kernel's own limit for one value is 64 KiB)."""
SCAN_BLOCK = 1 << 20
MIN_NAME_VALUE = 16
"""A known value shorter than this found in a name does not hide its directory: rules take
``postgres`` from ``POSTGRES_PASSWORD=postgres`` and ``development`` from ``password: development``,
and a ``postgres/`` or ``development/`` directory is no secret (a rule's finding in a name hides
whatever its length)."""


def xattr_text(path: str) -> str:
    """The ``user.*`` attributes of ``path`` (not followed if a link) as ``name=value`` lines, the
    value also as its printable strings (a binary value); empty when there are none or the
    filesystem has no attributes. Other namespaces (``security.``, ``system.``, ``trusted.``) are set
    by the system or root, not by a command in the workspace."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ""
    lines: list[str] = []
    for name in names:
        if not name.startswith(XATTR_PREFIX):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)[:MAX_XATTR_BYTES]
        except OSError:
            value = b""
        lines.append(f"{name}={value.decode('utf-8', 'replace')}")
        lines += printable_strings(value)
    return "\n".join(lines)


@dataclass
class NameBatch:
    """Lines to scan (names, link targets, attributes), each with the key a hit is charged to (the
    learner's: the entry whose name or target it is, or an attribute's entry with a prefix)."""

    lines: list[str] = field(default_factory=list)
    hides: list[str] = field(default_factory=list)

    def add(self, line: str, hides: str) -> None:
        """One line (a name, a link target) whose hit is charged to ``hides``."""
        self.lines.append(line)
        self.hides.append(hides)

    def add_text(self, text: str, hides: str) -> None:
        """A text of several lines (an entry's attributes) whose hit is charged to ``hides``."""
        for line in text.splitlines() or [text]:
            self.lines.append(line)
            self.hides.append(hides)


def scan_batch(
    batch: NameBatch,
    scan: Callable[[str], list[Any]],
    known: Callable[[str], list[Any]] | None,
    counts: Callable[[list[Any]], bool],
) -> tuple[list[tuple[str, str]], set[str]]:
    """``(value, rule)`` of every finding in ``batch`` and the keys its hits are charged to.

    The lines are scanned a block of about :data:`SCAN_BLOCK` characters at a time (one scanner
    call per block, not per name: a venv has tens of thousands of names); each finding is mapped back
    to the line it starts in. ``known`` finds the session's known values (any encoding) the same way;
    ``counts`` says whether its hits are enough to hide (the learner's rule for a binary)."""
    values: list[tuple[str, str]] = []
    hide: set[str] = set()
    start = 0
    while start < len(batch.lines):
        end, size = start, 0
        while end < len(batch.lines) and (size < SCAN_BLOCK or end == start):
            size += len(batch.lines[end]) + 1
            end += 1
        lines = [line.replace("\n", " ") for line in batch.lines[start:end]]
        text = "\n".join(lines)
        offsets: list[int] = []
        pos = 0
        for line in lines:
            offsets.append(pos)
            pos += len(line) + 1
        for f in scan(text):
            values.append((text[f.start : f.end], f.rule_id))
            hide.add(batch.hides[start + bisect.bisect_right(offsets, f.start) - 1])
        for h in known(text) if known is not None else ():
            if counts([h]):
                at = getattr(h, "start", None)
                if isinstance(at, int):
                    hide.add(batch.hides[start + bisect.bisect_right(offsets, at) - 1])
                else:  # no position: every path of the block (fail closed)
                    hide.update(batch.hides[start:end])
        start = end
    return values, hide


def name_counts(hits: Iterable[Any]) -> bool:
    """Whether known-value ``hits`` in names count: a whole value of :data:`MIN_NAME_VALUE`
    characters or more (not a 16-character window of a longer one: ``X25519PrivateKey`` is a
    module name in a venv as well as a part of a scanner finding in its sources)."""
    for h in hits:
        value = str(getattr(h, "value", h))
        whole = isinstance(h, str) or getattr(h, "end", 0) - getattr(h, "start", 0) >= len(value)
        if whole and len(value) >= MIN_NAME_VALUE:
            return True
    return False
