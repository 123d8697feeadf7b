"""Text that encodes compressed data or another text (issue 11, rt6): a hex dump of a config, a
ConfigMap's ``base64(gzip(...))``, a Helm release's ``base64(base64(gzip(json)))``, ``base64``'s
wrapped output of a gzip, ``xxd -p`` lines, an ASCII PDF's ASCII85 stream. The scanner decodes
them (:mod:`codeward.privacy.decode`) and a finding covers the whole blob, so redaction replaces
it. The controls: each blob decodes to no printable text, which is all the scanner read before
(``_base64_text_only`` is that rule), and a near miss of each holds no secret and gives no finding.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.privacy.test_unpack_formats import AWS, CLEAN, CONF, TOK, _learn

from codeward.privacy import decode
from codeward.privacy.decode import UNREADABLE_RULE, find_encoded
from codeward.privacy.scanner import load_scanner


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _release(text: str) -> bytes:
    return gzip.compress(('{"name": "app", "config": ' + repr(text) + "}").encode())


def _rows(data: bytes, width: int = 16) -> list[tuple[int, bytes]]:
    return [(i, data[i : i + width]) for i in range(0, len(data), width)]


def _ascii(row: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in row)


def _xxd(t: str) -> str:  # xxd's default layout (red team rt9: undone with `xxd -r`)
    return "".join(
        f"{i:08x}: " + " ".join(row[j : j + 2].hex() for j in range(0, len(row), 2)).ljust(40) + f"  {_ascii(row)}\n"
        for i, row in _rows(t.encode())
    )


def _hexdump_c(t: str) -> str:
    def pairs(row: bytes) -> str:
        return " ".join(f"{b:02x}" for b in row[:8]) + "  " + " ".join(f"{b:02x}" for b in row[8:])

    return "".join(f"{i:08x}  {pairs(row)}  |{_ascii(row)}|\n" for i, row in _rows(t.encode()))


TEXTS: dict[str, Callable[[str], str]] = {
    "xxd-default-layout": _xxd,
    "hexdump-C": _hexdump_c,
    "od-An-tx1": lambda t: "".join(" " + " ".join(f"{b:02x}" for b in row) + "\n" for _, row in _rows(t.encode())),
    "od-tx1-offsets": lambda t: "".join(
        f"{i:07o} " + " ".join(f"{b:02x}" for b in row) + "\n" for i, row in _rows(t.encode())
    ),
    "xxd-i-c-array": lambda t: (
        "unsigned char conf[] = {\n"
        + "".join("  " + ", ".join(f"0x{b:02x}" for b in row) + ",\n" for _, row in _rows(t.encode(), 12))
        + "};\n"
    ),
    "base32-wrapped": lambda t: "\n".join(textwrap.wrap(base64.b32encode(t.encode()).decode(), 76)) + "\n",
    "base32-inline": lambda t: f"payload: {base64.b32encode(t.encode()).decode()}\n",
    "uuencode": lambda t: (
        "begin 644 app.conf\n"
        + "".join(binascii.b2a_uu(t.encode()[i : i + 45]).decode() for i in range(0, len(t.encode()), 45))
        + "`\nend\n"
    ),
    "string-escapes": lambda t: 'CONF = "' + "".join(f"\\x{b:02x}" for b in t.encode()) + '"\n',
    "hex-dump-one-line": lambda t: t.encode().hex() + "\n",
    "hex-dump-upper-case": lambda t: t.encode().hex().upper() + "\n",
    "xxd-p-lines": lambda t: "\n".join(textwrap.wrap(t.encode().hex(), 60)) + "\n",
    "configmap-base64-gzip": lambda t: f"kind: ConfigMap\ndata:\n  blob: {_b64(gzip.compress(t.encode()))}\n",
    "base64-zlib": lambda t: f"payload = '{_b64(zlib.compress(t.encode()))}'\n",
    "base64-cli-wrapped-gzip": lambda t: "\n".join(textwrap.wrap(_b64(gzip.compress(("# x\n" * 30 + t).encode())), 76)),
    # Helm's configmap driver stores base64(gzip(json)); a Secret's value is base64 of that again
    # (a Secret's data values are found by the kubernetes-secret-yaml rule already, so not here)
    # CPython's test_mailbox.py: a string literal's quotes before the first line (alone, a cut stream)
    "python-literal-wrapped-gzip": lambda t: (
        '_payloads = ("""' + "\n".join(textwrap.wrap(_b64(gzip.compress(t.encode())), 72)) + '\n""")\n'
    ),
    "helm-release-configmap": lambda t: f"kind: ConfigMap\ndata:\n  release: {_b64(_release(t))}\n",
    "helm-release-base64-twice": lambda t: f"release: {_b64(_b64(_release(t)).encode())}\n",
    "base64-of-tar-gz": lambda t: "archive: " + _b64(_tar_gz(t)) + "\n",
    "ascii-pdf-ascii85": lambda t: (
        "%PDF-1.4\n1 0 obj\n<</Filter /ASCII85Decode>>\nstream\n"
        + base64.a85encode(t.encode()).decode()
        + "~>\nendstream\nendobj\n"
    ),
    "adobe-ascii85-wrapped": lambda t: base64.a85encode(t.encode(), wrapcol=40, adobe=True).decode() + "\n",
}


def _tar_gz(text: str) -> bytes:
    from tests.privacy.test_unpack_formats import _tar

    return _tar({"etc/app.conf": text.encode()}, "w:gz")


def _base64_text_only(text: str) -> list[bytes]:
    """What the scanner decoded before: base64 blobs of printable UTF-8 text only."""
    import re

    out = []
    for m in re.finditer(rb"[A-Za-z0-9+/_\-]{16,}={0,2}", text.encode()):
        blob = m.group().rstrip(b"=")
        try:
            raw = base64.b64decode(blob + b"=" * (-len(blob) % 4))
            raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        out.append(raw)
    return out


@pytest.mark.parametrize("fmt", sorted(TEXTS))
def test_a_secret_encoded_in_text_is_found_and_redacted_whole(tmp_path: Path, fmt: str) -> None:
    text = TEXTS[fmt](CONF)
    # the control: neither the text nor what the scanner decoded before holds the secret
    assert TOK not in text and AWS not in text
    assert not any(TOK.encode() in raw or AWS.encode() in raw for raw in _base64_text_only(text))
    scanner = load_scanner()
    findings = scanner.scan(text, path="f.txt")
    assert findings, fmt
    learner = _learn(tmp_path / "ws", "f.txt", text.encode())
    assert learner.secret_paths() == {str(tmp_path / "ws" / "f.txt")}
    from codeward.privacy.redact import Redactor

    red = Redactor(scanner).redact(text, path="f.txt").text
    assert "<secret:" in red
    for got in find_encoded(red.encode()):  # nothing left that decodes to the secret
        assert TOK.encode() not in (got[2] if isinstance(got[2], bytes) else b"")


@pytest.mark.parametrize("fmt", sorted(TEXTS))
def test_the_same_encoding_without_a_secret_gives_no_finding(tmp_path: Path, fmt: str) -> None:
    text = TEXTS[fmt](CLEAN)
    assert load_scanner().scan(text, path="f.txt") == []
    assert _learn(tmp_path / "ws", "f.txt", text.encode()).secret_paths() == set()


def test_a_base64_bomb_is_redacted_whole_not_passed_unread() -> None:
    """Fail closed: compressed data over the budget (the secret after 9 MiB of zeros) is a finding
    over the whole blob."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = z.compress(b"\0" * (9 << 20)) + z.compress(CONF.encode()) + z.flush()
    text = f"data: {_b64(bomb)}\n"
    findings = load_scanner().scan(text)
    assert [f.rule_id for f in findings] == [UNREADABLE_RULE]
    assert findings[0].start == text.index(": ") + 2 and findings[0].end == len(text) - 1


def test_a_damaged_base64_gzip_is_redacted_and_a_random_token_is_not() -> None:
    cut = _b64(gzip.compress(CLEAN.encode() * 5)[:-30])
    assert [f.rule_id for f in load_scanner().scan(f"x: {cut}\n")] == [UNREADABLE_RULE]
    # the near miss: a base64 token of random bytes (a hash, a nonce) is no compressed data
    assert load_scanner().scan("integrity: sha512-" + _b64(bytes(range(7, 71))) + "\n") == []


def test_one_budget_for_a_scan_and_its_nested_blobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs of compressed data share one budget per scan (nested blobs included): three blobs that
    inflate to 3 MiB each are read as long as 8 MiB lasts, and the third is redacted."""
    line = b"nothing secret on this line, just log text 0123456789\n"
    part = gzip.compress(line * ((3 << 20) // len(line)))
    text = "\n".join(f"blob{i}: {_b64(part)}" for i in range(3)) + "\n"
    monkeypatch.setattr(decode, "MAX_BLOB", 1 << 22)
    rules = [f.rule_id for f in load_scanner().scan(text)]
    assert rules == [UNREADABLE_RULE]
    assert [f.rule_id for f in load_scanner().scan("\n".join(text.splitlines()[:2]))] == []


def test_a_base64_gzip_larger_than_the_blob_limit_is_read() -> None:
    """A Helm release is often over 64 KiB: only blobs of compressed data are read beyond it."""
    import os

    filler = base64.b64encode(os.urandom(60_000)).decode()
    text = f"release: {_b64(gzip.compress((filler + chr(10) + CONF).encode()))}\n"
    assert len(text) > decode.MAX_BLOB
    assert load_scanner().scan(text) != []


def test_a_hash_that_starts_like_a_zlib_header_gives_nothing_to_rescan() -> None:
    """``28 15`` is a valid zlib header: this SHA-1 starts like one, inflates nothing, and is not
    handed back as text (the near miss of the hex dump)."""
    digest = "2815f6b98b7a1fc00fc6bbb6d86583c410d86af7"
    assert decode._compressed(bytes.fromhex(digest))
    assert list(find_encoded(f"resolved: pkg-{digest}.tgz\n".encode())) == []
