"""Secrets known by value, found again wherever they appear and however a command encoded them.

A regex finds a token by its shape; once the session knows a secret's *value* (a scanner finding in
a file or a prompt, a configured API key, a value restored into a file), it no longer needs the
shape. A command can still transform the value before its output reaches the gate (``rev``,
``xxd -p``, ``base32``, ``gzip | base64``, rot13, ``\\u`` escapes, one space between characters), so
each value is expanded into its encoded *variants* and all of them are matched at once with one
Aho-Corasick automaton, on three kinds of view of the outbound text:

* the text with ASCII whitespace removed and ASCII letters folded to lower case (covers wrapping
  at any width, one space between characters, upper/lower-case hex and ``tr a-z A-Z``);
* the same text decimated (every 2nd or 3rd character: a value interleaved with single
  separator characters), for values of at least :data:`MIN_DECIMATED` characters only;
* decoding layers: runs of base64/base32/hex (wrapped or not, any length up to
  :data:`MAX_BLOB`) are decoded, gzip/zlib/bzip2/xz payloads decompressed, and the result searched
  again, recursively (``base64 | base64 | base64``), within a byte budget per call.

A base64 or base32 encoding of a value embedded in a longer stream depends on its alignment, so
each alignment contributes the *core* of the encoding: the characters determined by the value's
bytes alone. A match is reported as a span of the original text (from the first to the last
character involved, or the whole encoded run for a decoded layer), which the redactor replaces.

Values shorter than :data:`MIN_VALUE` characters are not tracked: a five-letter word would match
ordinary prose.

A part of a long value is a secret too (``cut -c3-`` of a token, the token without its ``ghp_``
prefix, half of it per command): a value of :data:`MIN_WINDOW_VALUE` characters or more is also
found by any :data:`WINDOW` consecutive characters of it (:func:`window_variants`), plain or
reversed at every offset (so overlapping hits merge into the whole part present), and hex or base64
at every fourth offset (a part of about 20 characters or more); the other encodings are not
windowed (each window costs automaton states: 513 values with windows in every form took 3 GB). Only windows that look generated
are tracked (:func:`_random_looking`): ``BEGIN RSA PRIVATE`` or ``----------------`` in a value
are structure that other texts share.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import contextlib
import lzma
import re
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, quote_plus

MIN_VALUE = 6
MIN_DECIMATED = 8
MIN_CORE = 8
MAX_DEPTH = 8
MAX_BLOB = 64 << 20
DECODE_BUDGET = 64 << 20
MIN_RUN = 12
MIN_WINDOW_VALUE = 20
MAX_WINDOW_VALUE = 4096
WINDOW = 16
WINDOW_STEP = 4

_WS = b" \t\r\n\f\v"
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
# candidate encoded runs: the union of the base64 (standard and URL-safe), base32 and hex alphabets,
# possibly wrapped over several lines
_RUN = re.compile(rb"[A-Za-z0-9+/_\-]{%d,}={0,6}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/_\-]+={0,6})*" % MIN_RUN)
# two or more lines that start with a hex offset (xxd "00000010:", hexdump -C, od "0000020")
_DUMP_RUN = re.compile(rb"(?m)^[0-9a-fA-F]{6,8}:?[ \t][^\n]*(?:\n[0-9a-fA-F]{6,8}:?(?:[ \t][^\n]*)?)+")
_DUMP_OFFSET = re.compile(rb"^[0-9a-fA-F]{6,8}:?")
_TOKEN = re.compile(rb"[A-Za-z0-9+/_\-]{%d,}={0,6}" % MIN_RUN)


@dataclass(frozen=True)
class KnownHit:
    """A span of the text (character offsets) that carries the known value ``value``."""

    start: int
    end: int
    rule: str
    value: str


def _fold(b: bytes) -> bytes:
    return b.translate(_LOWER, _WS)


def _rot13(s: str) -> str:
    return codecs.encode(s, "rot13")


def _aligned_cores(raw: bytes, group: int, bits: int, enc: object) -> list[str]:
    """For each byte alignment, the encoded characters fixed by ``raw`` alone (base64: 3/6, base32: 5/5)."""
    out = []
    n = len(raw)
    for k in range(group):
        full = enc(b"\0" * k + raw + b"\0" * group)  # type: ignore[operator]
        text = full.decode("ascii")
        first = -(-8 * k // bits)
        last = (8 * (k + n)) // bits
        core = text[first:last]
        if len(core) >= MIN_CORE:
            out.append(core)
    return out


def variants(value: str) -> set[bytes]:
    """Every folded (lower-case, whitespace-free) form of ``value`` this module looks for."""
    forms: set[str] = set()
    bases = {value, value[::-1], _rot13(value), _rot13(value)[::-1]}
    for b in bases:
        raw = b.encode("utf-8", "surrogatepass")
        forms.add(b)
        forms.add(raw.hex())
        forms.add("".join(f"\\x{c:02x}" for c in raw))
        forms.add("".join(f"%{c:02x}" for c in raw))
        forms.add("".join(f"\\u{ord(c):04x}" for c in b))
        forms.add("".join(f"&#{ord(c)};" for c in b))
        forms.add("".join(f"&#x{ord(c):x};" for c in b))
        forms.add(quote(b, safe=""))
        forms.add(quote_plus(b))
        codes = [str(ord(c)) for c in b]
        forms.update({",".join(codes), ";".join(codes), "".join(codes)})
        forms.add(",".join(f"0x{ord(c):02x}" for c in b))
        encoded = _aligned_cores(raw, 3, 6, base64.b64encode) + _aligned_cores(raw, 5, 5, base64.b32encode)
        for core in encoded:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
            forms.add(core[::-1])
            forms.add(_rot13(core))
    out = set()
    for f in forms:
        folded = _fold(f.encode("utf-8", "surrogatepass"))
        if len(folded) >= MIN_VALUE:
            out.add(folded)
    return out


def _random_looking(window: str) -> bool:
    """At least 8 distinct characters, and a digit or both letter cases: a generated token's part,
    not a run of one character or a word-like header shared by other values and texts."""
    if len(set(window)) < 8:
        return False
    return any(c.isdigit() for c in window) or (any(c.isupper() for c in window) and any(c.islower() for c in window))


def window_variants(value: str) -> set[bytes]:
    """The folded forms of every :data:`WINDOW`-character part of ``value`` (none for a value shorter
    than :data:`MIN_WINDOW_VALUE` or longer than :data:`MAX_WINDOW_VALUE`, a 4096-bit PEM key's size)."""
    plain = "".join(value.split())
    if not MIN_WINDOW_VALUE <= len(plain) <= MAX_WINDOW_VALUE:
        return set()  # longer: a whole file found as one value, whose windows would cost megabytes
    forms: set[str] = set()
    for i in range(len(plain) - WINDOW + 1):
        w = plain[i : i + WINDOW]
        if _random_looking(w):
            forms.update((w, w[::-1]))
    raw = plain.encode("utf-8", "surrogatepass")
    encoded = [(raw.hex(), 2 * WINDOW)]
    encoded += [(core, -(-WINDOW * 4 // 3) + 1) for core in _aligned_cores(raw, 3, 6, base64.b64encode)]
    for text, width in encoded:
        forms.update(text[i : i + width] for i in range(0, len(text) - width + 1, WINDOW_STEP))
    return {_fold(f.encode("utf-8", "surrogatepass")) for f in forms}


class KnownValues:
    """The session's known secret values and the automaton that finds their variants."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._auto: object | None = None
        self._dirty = False
        self._lock = threading.Lock()

    def add(self, value: str, rule: str) -> bool:
        """Track ``value`` (found by ``rule``); False when it is too short or already known."""
        v = value.strip()
        if len(v) < MIN_VALUE or v in self._values:
            return False
        with self._lock:
            self._values[v] = rule
            self._dirty = True
        return True

    def add_all(self, values: Iterable[tuple[str, str]]) -> None:
        for v, r in values:
            self.add(v, r)

    def items(self) -> list[tuple[str, str]]:
        """``(value, rule)`` for every tracked value."""
        with self._lock:
            return list(self._values.items())

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def _automaton(self) -> object | None:
        with self._lock:
            if self._dirty or self._auto is None:
                import ahocorasick

                auto = ahocorasick.Automaton()
                for v, rule in self._values.items():
                    for form in variants(v) | window_variants(v):
                        for piece in _pieces(form):
                            key = piece.decode("latin-1")
                            if key not in auto:
                                auto.add_word(key, (len(piece), v, rule))
                if len(auto):
                    auto.make_automaton()
                self._auto = auto if len(auto) else None
                self._dirty = False
            return self._auto

    def find(self, text: str) -> list[KnownHit]:
        """Spans of ``text`` carrying a known value in any tracked form, merged, in order."""
        if not self._values:
            return []
        auto = self._automaton()
        if auto is None:
            return []
        data = text.encode("utf-8", "surrogatepass")
        spans = _Search(auto).spans(data, 0)
        if not spans:
            return []
        spans.sort()
        merged: list[list[object]] = []
        for s, e, v, r in spans:
            if merged and s < merged[-1][1]:  # type: ignore[operator]
                merged[-1][1] = max(merged[-1][1], e)  # type: ignore[call-overload]
                continue
            merged.append([s, e, v, r])
        return _to_chars(data, merged)


MAX_KEY = 1024
"""The longest key put in the automaton. pyahocorasick frees its trie recursively, one C frame per
character of the deepest key: the hex form of a 90 KiB value (a whole base64 blob found as one
secret) overflowed a thread's stack and killed the process (red team rt16). A longer form goes in
as pieces of this length that cover it end to end (the last one overlapping the one before), so
every occurrence of the whole form is still covered, piece by piece."""


def _pieces(form: bytes) -> list[bytes]:
    if len(form) <= MAX_KEY:
        return [form]
    starts = [*range(0, len(form) - MAX_KEY, MAX_KEY), len(form) - MAX_KEY]
    return [form[i : i + MAX_KEY] for i in starts]


class _Search:
    """One search: the automaton plus a decoding budget shared by all layers."""

    def __init__(self, auto: object) -> None:
        self.auto = auto
        self.budget = DECODE_BUDGET

    def spans(self, data: bytes, depth: int) -> list[tuple[int, int, str, str]]:
        out = self._views(data)
        if depth < MAX_DEPTH and self.budget > 0:
            out.extend(self._layers(data, depth))
            out.extend(self._dumps(data, depth))
            if b"binary patch" in data:  # git's base85 + zlib (git log -p --binary)
                out.extend(self._git_patches(data, depth))
        return out

    def _git_patches(self, data: bytes, depth: int) -> list[tuple[int, int, str, str]]:
        from codeward.privacy.gitpatch import binary_patches

        out = []
        for s, e, inflated in binary_patches(data):
            self.budget -= len(inflated)
            inner = self.spans(inflated, depth + 1)
            if inner:
                out.append((s, e, inner[0][2], inner[0][3]))
        return out

    def _dumps(self, data: bytes, depth: int) -> list[tuple[int, int, str, str]]:
        """Hex dumps (``xxd``, ``hexdump -C``, ``od``): the value is split across lines between
        offsets, so each run of dump lines is read back as bytes (its hex columns) and as text (what
        follows the offsets), and both are searched; a hit covers the whole run."""
        if b"\n" not in data:
            return []
        out = []
        for m in _DUMP_RUN.finditer(data):
            s, e = m.span()
            hexbytes = bytearray()
            text = bytearray()
            for line in data[s:e].split(b"\n"):
                body = _DUMP_OFFSET.sub(b"", line, count=1)
                tokens = body.split()
                n = 0
                for t in tokens:
                    if len(t) in (2, 4) and all(c in b"0123456789abcdefABCDEF" for c in t):
                        hexbytes += bytes.fromhex(t.decode("ascii"))
                        n += 1
                    else:
                        break
                text += b"".join(tokens[n:]).strip(b"|<>") if n else body
            self.budget -= len(hexbytes) + len(text)
            for view in (bytes(hexbytes), bytes(text)):
                inner = self._views(view) if view else []
                if not inner and view and depth + 1 < MAX_DEPTH:
                    inner = self._layers(view, depth + 1)
                if inner:
                    out.append((s, e, inner[0][2], inner[0][3]))
                    break
        return out

    def _views(self, data: bytes) -> list[tuple[int, int, str, str]]:
        folded = _fold(data)
        if not folded:
            return []
        hits: list[tuple[int, int, int, str, str]] = []  # (view stride, offset, end in view, value, rule)
        for end, (n, value, rule) in self.auto.iter(folded.decode("latin-1")):  # type: ignore[attr-defined]
            hits.append((1, 0, end - n + 1, end, value, rule))  # type: ignore[arg-type]
        for stride in (2, 3):
            for off in range(stride):
                view = folded[off::stride]
                for end, (n, value, rule) in self.auto.iter(view.decode("latin-1")):  # type: ignore[attr-defined]
                    if n >= MIN_DECIMATED:
                        hits.append((stride, off, end - n + 1, end, value, rule))  # type: ignore[arg-type]
        if not hits:
            return []
        # folded index -> original byte index (only built when something matched)
        pos = [i for i, c in enumerate(data) if c not in _WS]
        out = []
        for stride, off, s, e, value, rule in hits:  # type: ignore[misc]
            a = pos[off + s * stride]
            b = pos[off + e * stride] + 1
            out.append((a, b, value, rule))
        return out

    def _layers(self, data: bytes, depth: int) -> list[tuple[int, int, str, str]]:
        out = []
        for m in _RUN.finditer(data):
            s, e = m.span()
            hit = self._decode_run(data, s, e, depth)
            if hit is None and b"\n" in data[s:e]:
                # the run joined lines that are not one wrapped blob: try each line's run alone
                for t in _TOKEN.finditer(data, s, e):
                    hit = self._decode_run(data, t.start(), t.end(), depth)
                    if hit is not None:
                        out.append(hit)
            elif hit is not None:
                out.append(hit)
            if self.budget < 0:
                break
        return out

    def _decode_run(self, data: bytes, s: int, e: int, depth: int) -> tuple[int, int, str, str] | None:
        if e - s > MAX_BLOB:
            return None
        for decoded in _decodings(_fold_keep_case(data[s:e])):
            self.budget -= len(decoded)
            if self.budget < 0:
                return None
            if not _textual(decoded):
                continue  # random bytes (a hash, an identifier read as base64) hold no value
            inner = self.spans(decoded, depth + 1)
            if inner:
                _, _, value, rule = inner[0]
                return (s, e, value, rule)
        return None


def _fold_keep_case(b: bytes) -> bytes:
    return b.translate(None, _WS)


def _decodings(run: bytes) -> list[bytes]:
    """What ``run`` may encode: hex, base32, base64 (standard or URL-safe), each decompressed if it is."""
    out: list[bytes] = []
    body = run.rstrip(b"=")
    if len(body) >= MIN_RUN and len(body) % 2 == 0 and all(c in b"0123456789abcdefABCDEF" for c in body[:64]):
        with contextlib.suppress(ValueError):
            out.append(bytes.fromhex(body.decode("ascii")))
    if body.isupper() or all(c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in body[:64]):
        with contextlib.suppress(binascii.Error, ValueError):
            out.append(base64.b32decode(body + b"=" * (-len(body) % 8)))
    if len(body) % 4 != 1 and not (body.islower() or body.isupper()) and (len(body) >= 24 or not body.isalpha()):
        padded = body + b"=" * (-len(body) % 4)
        try:
            if b"-" in body or b"_" in body:
                out.append(base64.urlsafe_b64decode(padded))
            else:
                out.append(base64.b64decode(padded, validate=True))
        except (binascii.Error, ValueError):
            pass
    return [_decompress(d) for d in out if len(d) >= 4]


def _decompress(d: bytes) -> bytes:
    """``d`` decompressed when it starts like gzip, zlib, bzip2 or xz (bounded), else ``d``."""
    try:
        if d[:2] == b"\x1f\x8b" or (d[:1] == b"\x78" and d[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda")):
            z = zlib.decompressobj(47)
            return z.decompress(d, MAX_BLOB)
        if d[:3] == b"BZh":
            return bz2.BZ2Decompressor().decompress(d, MAX_BLOB)
        if d[:6] == b"\xfd7zXZ\x00":
            return lzma.LZMADecompressor().decompress(d, MAX_BLOB)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return d
    return d


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")


def _textual(d: bytes) -> bool:
    """Mostly printable text (ASCII or UTF-8): what an encoded secret, or a file holding one, decodes to."""
    if not d.isascii():
        try:
            d.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return len(_CONTROL.findall(d[:65536])) <= len(d[:65536]) // 20


def _to_chars(data: bytes, spans: list[list[object]]) -> list[KnownHit]:
    out = []
    ascii_only = data.isascii()
    for span in spans:
        s, e, v, r = cast(int, span[0]), cast(int, span[1]), span[2], span[3]
        if not ascii_only:  # widen to whole UTF-8 characters
            while s > 0 and data[s] & 0xC0 == 0x80:
                s -= 1
            while e < len(data) and data[e] & 0xC0 == 0x80:
                e += 1
        if ascii_only:
            cs, ce = s, e
        else:
            cs = len(data[:s].decode("utf-8", "surrogatepass"))
            ce = cs + len(data[s:e].decode("utf-8", "surrogatepass"))
        out.append(KnownHit(cs, ce, str(r), str(v)))
    return out
