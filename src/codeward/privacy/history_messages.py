"""Commit and tag messages with secrets, as the sandbox's object-store view shows them: redacted.

``git log`` prints every commit message and ``git tag -n``/``git show TAG`` every tag message. A
secret committed in a message (a token pasted into "fix deploy, key was ...") is a known value to
the gate, but only in the encodings the gate tracks: a command that shifts each character by one
carried it past (red team rt6). So the view (:mod:`codeward.privacy.history_view`) leaves such a
commit or tag out of its pack and writes a copy whose message has each secret replaced by a
placeholder, with a replace ref from the original id to the copy, as it does for blobs. The
headers (tree, parents, author, signature) are kept as they are, so history and ancestry read the
same; a signature no longer verifies, and ``--no-replace-objects`` finds the object missing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from codeward.privacy.history import (
    MESSAGES,
    HistoryError,
    clean_cache_file,
    foreign_message,
    judge_blob,
    list_blobs,
    load_clean,
    read_blobs,
    save_clean,
)

_KEY = os.urandom(32)


def placeholder(rule_id: str, value: str) -> str:
    """The redactor's placeholder shape (which the scanner skips), keyed by a per-process secret so
    that it says nothing about the value; :meth:`Redactor.restore` never maps it back."""
    from codeward.privacy.redact import _placeholder_rule

    mac = hmac.new(_KEY, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"<secret:{_placeholder_rule(rule_id)}:{mac[:8]}>"


def kind_of(data: bytes) -> bytes:
    """A commit's text starts with its tree, a tag's with the object it names."""
    return b"commit" if data.startswith(b"tree ") else b"tag"


def redacted_messages(
    root: Path,
    scanner: Any,
    cache_dir: Path | None,
    *,
    oids: dict[str, int] | None = None,
    known_clean: set[str] | frozenset[str] = frozenset(),
) -> dict[str, tuple[bytes, bytes]]:
    """Commit or tag id -> (its type, its text with each secret of the message replaced), for every
    commit and tag (or those of ``oids``) whose message holds a finding. Ids judged clean (the
    history scan's, or the clean-object cache's) are not read again."""
    oids = list_blobs(root, MESSAGES) if oids is None else oids
    cache_file = clean_cache_file(cache_dir, root, scanner)
    clean = load_clean(cache_file) | set(known_clean)
    todo = [o for o in oids if o not in clean]
    out: dict[str, tuple[bytes, bytes]] = {}
    newly_clean: set[str] = set()
    mismatched: list[str] = []
    for oid, data in read_blobs(root, todo, mismatched=mismatched):
        redacted = _redact_message(data, scanner)
        if redacted is None:
            newly_clean.add(oid)
        else:
            out[oid] = (kind_of(data), redacted)
    if newly_clean:
        save_clean(cache_file, load_clean(cache_file) | newly_clean)
    if mismatched:
        # not matching its id: the store is held by another session's Landlock command, a forged
        # one at its name (red team rt21); a message nobody judged cannot be shown
        raise HistoryError(
            f"{len(mismatched)} commit or tag objects do not match their ids (the store is in use); run again"
        )
    return out


STRUCTURAL = ("tree ", "parent ", "object ", "type ")
"""Header lines git needs as they are to read the history (a finding there is left to the gate)."""


def _redact_message(data: bytes, scanner: Any) -> bytes | None:
    """``data`` with every finding replaced; None when there is none.

    The message and every header but the structural ones are redacted: an author or committer name,
    an extra header, a ``mergetag`` header (git copies a merged signed tag, message and all, into
    the merge commit: red team rt8). In headers the placeholder has no angle brackets, which would
    end an author's name. A message in another encoding (an ``encoding`` header: ``git log``
    re-encodes it for display, so ``+AF8-`` in UTF-7 prints as ``_``) is scanned as git would show
    it, and replaced whole by a note when it holds a finding or its encoding is unknown here."""
    text = data.decode("utf-8", "surrogateescape")
    end = text.find("\n\n")
    head_end = len(text) if end < 0 else end + 1
    body_start = len(text) if end < 0 else end + 2
    structural = _structural_spans(text[:head_end])
    found = [f for f in scanner.scan(text) if not any(a <= f.start < b for a, b in structural)]
    head, body = _replaced(text, found, body_start)
    note = _foreign_message(data, scanner)
    if note is None and judge_blob((head + body).encode("utf-8", "surrogateescape"), scanner, None)[1]:
        # what is left still holds a finding the text does not show where it is (a message in
        # UTF-16 with no encoding header: red team rt9): the message goes whole
        note = "(codeward: this message held a secret in a form codeward cannot redact in place, so it is hidden)\n"
    if not found and note is None:
        return None
    return (head + (body if note is None else note)).encode("utf-8", "surrogateescape")


def _replaced(text: str, found: list[Any], body_start: int) -> tuple[str, str]:
    """The headers and the message of ``text`` with each finding replaced by a placeholder (one
    without angle brackets in the headers)."""
    parts, last = [], 0
    for f in sorted(found, key=lambda f: f.start):
        if f.end <= last:
            continue  # inside the previous finding: its placeholder covers it
        start = max(f.start, last)  # overlapping: what the previous one left gets its own placeholder
        parts.append(text[last:start])
        shown = placeholder(f.rule_id, text[start : f.end])
        parts.append(shown if start >= body_start else "(" + shown[1:-1] + ")")
        last = f.end
    parts.append(text[last:])
    out = "".join(parts)
    cut = out.find("\n\n") + 2 if "\n\n" in out else len(out)
    return out[:cut], out[cut:]


def _structural_spans(head: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in head.split("\n"):
        if line.startswith(STRUCTURAL):
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _foreign_message(data: bytes, scanner: Any) -> str | None:
    """The note a message in a declared non-UTF-8 encoding is replaced by, or None to keep it."""
    foreign = foreign_message(data)
    if foreign is None:
        return None
    encoding, shown = foreign
    if shown is None:
        return f"(codeward: this message, in an encoding codeward cannot read ({encoding[:40]}), is hidden)\n"
    if scanner.scan(shown):
        return f"(codeward: this message, in the encoding {encoding[:40]}, held a secret and is hidden)\n"
    return None
