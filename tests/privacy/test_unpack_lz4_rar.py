"""LZ4 read and RAR hidden wherever they sit in a file (issue 11's format gaps: both were known only
at a file's start, so ``tail -c +513 f | lz4 -dc`` or ``unrar p`` of a RAR after other bytes read a
secret the scan never saw).

LZ4 frames come from the real ``lz4`` program (``scripts/test`` installs it), in each framing it
writes; each golden case is found by the workspace scan and its clean twin left alone. The control
is the reader before this change: ``kind`` of a file with a header is None, and the carver had no
LZ4 or RAR candidate, so its payload was read as strings only (asserted for each case: no finding
there). RAR has no free program to make archives with, so its main headers are built from the
format's documentation here; ``bench/rar_headers.py`` checks the same code against real archives.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.privacy.test_unpack_carve import HEADER, _ar
from tests.privacy.test_unpack_formats import AWS, CLEAN, CONF, TOK, _learn, _tar

from codeward.privacy.contents import contents
from codeward.privacy.scanner import load_scanner
from codeward.privacy.unpack import Budget, Fragment, kind
from codeward.privacy.unpack_carve import carve
from codeward.privacy.unpack_lz4 import FRAME_MAGIC, frame, xxh32_short


def lz4(data: bytes, *args: str) -> bytes:
    if shutil.which("lz4") is None:
        pytest.skip("no lz4 program here to make frames with (apt-get install lz4; scripts/test installs it)")
    return subprocess.run(["lz4", "-q", "-c", *args], input=data, capture_output=True, check=True).stdout


PIECES = " ".join(s[i : i + 6] for s in (AWS, TOK) for i in range(0, len(s), 6)) + "\n"
"""The secrets' six-character pieces, apart: with them earlier in the text, LZ4 writes each secret
as matches between short literals, so no string of the compressed bytes holds it (what reading a
binary's strings alone, the control, would need)."""
FILLER = "".join(f"line {i}: nothing secret, just enough text to fill a block or two\n" for i in range(3000))

CASES: dict[str, Callable[[str], bytes]] = {
    "frame-after-a-header": lambda t: HEADER + lz4(t.encode()),
    "frame-at-the-start": lambda t: lz4(t.encode()),
    "legacy-frame-after-a-header": lambda t: HEADER + lz4(t.encode(), "-l"),
    "legacy-frame-at-the-start": lambda t: lz4(t.encode(), "-l"),
    # several 64 KiB blocks that reach back into each other, block and content checksums, a size
    "dependent-blocks-with-checksums": lambda t: HEADER + lz4((FILLER + t + FILLER).encode(), "-B4", "-BD", "-BX"),
    "independent-blocks-content-size": lambda t: (
        HEADER + lz4((FILLER + t).encode(), "-B4", "--content-size", "--no-frame-crc")
    ),
    # a first block of one byte (empty) that ``lz4 -dc`` accepts before the real one
    "legacy-frame-tiny-first-block": lambda t: (
        HEADER + (lambda f: f[:4] + (1).to_bytes(4, "little") + b"\x00" + f[4:])(lz4(t.encode(), "-l"))
    ),
    "second-frame-of-two": lambda t: lz4(b"first frame, nothing in it\n") + lz4(t.encode()),
    "deb-data-tar-lz4": lambda t: _ar([("debian-binary", b"2.0\n"), ("data.tar.lz4", lz4(_tar({"a": t.encode()})))]),
}


def _strings_only(data: bytes) -> str:
    return "\n".join(m.group().decode() for m in re.finditer(rb"[\t\x20-\x7e]{8,}", data))


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_an_lz4_frame_anywhere_is_read(tmp_path: Path, fmt: str) -> None:
    data = CASES[fmt](PIECES + CONF)
    assert load_scanner().scan(_strings_only(data), path="f.bin") == []  # the control: strings hold nothing
    learner = _learn(tmp_path / "ws", "f.bin", data)
    assert learner.secret_paths() == {str(tmp_path / "ws" / "f.bin")}
    assert learner.unscannable == {}
    got = contents(data)
    assert got.unscannable is None and any(TOK in t and AWS in t for t in got.texts)


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_the_same_frame_without_a_secret_is_left_alone(tmp_path: Path, fmt: str) -> None:
    learner = _learn(tmp_path / "ws", "f.bin", CASES[fmt](PIECES + CLEAN))
    assert learner.secret_paths() == set() and learner.unscannable == {}


def test_the_decoder_gives_back_exactly_what_lz4_compressed() -> None:
    text = (FILLER * 3).encode() + bytes(range(256)) * 50
    for args in ((), ("-9",), ("-B4", "-BD"), ("-l",), ("--fast=5",)):
        data = lz4(text, *args)
        got = frame(data, 0, Budget()) if data.startswith(FRAME_MAGIC) else None
        payloads = list(carve(b"xx" + data, Budget()))
        assert text in payloads, args
        if got is not None:
            assert got == (text, len(data)) and not isinstance(got[0], Fragment)


def test_xxh32_matches_the_published_values() -> None:
    """The descriptor checksum rests on it: the reference implementation's values for short inputs."""
    assert xxh32_short(b"") == 0x02CC5D05
    assert xxh32_short(b"a") == 0x550D7456
    assert xxh32_short(b"abc") == 0x32D153FF


def test_a_frame_cut_short_gives_what_came_before_the_cut() -> None:
    """``lz4 -dc`` prints the blocks it decoded before the error: so does the carver."""
    data = lz4((CONF + FILLER).encode(), "-B4", "-BI")  # the secret in the first of several blocks
    got = contents(HEADER + data[: len(data) // 2])
    assert got.unscannable is None and any(AWS in t for t in got.texts)


def test_a_frame_that_needs_a_dictionary_hides_the_file() -> None:
    descriptor = bytes([0x61, 0x40]) + (1234).to_bytes(4, "little")  # version 01, independent, DictID
    head = FRAME_MAGIC + descriptor + bytes([(xxh32_short(descriptor) >> 8) & 0xFF])
    got = contents(HEADER + head + (5).to_bytes(4, "little") + b"\x40abcd" + bytes(4))
    assert got.unscannable is not None and "dictionary" in got.unscannable


def test_a_frame_over_the_budget_hides_the_file() -> None:
    got = contents(HEADER + lz4(bytes(20 << 20)))
    assert got.unscannable is not None and "MiB" in got.unscannable


def test_lz4_magic_alone_is_not_a_frame() -> None:
    """Both magics as constants in a library that links liblz4, code after them: nothing read, not hidden."""
    code = b"\x7fELF" + b"\0" * 60 + (b"\xb8\x04\x22\x4d\x18\x48\x89\xdf" + b"\x02\x21\x4c\x18\x75\x0a\xe8") * 50
    got = contents(code)
    assert got.unscannable is None
    assert [p for p in carve(code, Budget()) if p] == []


def _rar5(header_type: int = 1) -> bytes:
    """A RAR 5 signature and main archive header: CRC32, then a variable-length size, then the
    header (type, flags, archive flags)."""
    body = bytes([header_type, 0x00, 0x00])
    sized = bytes([len(body)]) + body
    return b"Rar!\x1a\x07\x01\x00" + zlib.crc32(sized).to_bytes(4, "little") + sized


def _rar4() -> bytes:
    """A RAR 1.5-4 signature and main archive header: low half of the CRC32 of the eleven bytes
    after it (type 0x73, flags, size 13, six reserved bytes)."""
    rest = bytes([0x73]) + (0).to_bytes(2, "little") + (13).to_bytes(2, "little") + bytes(6)
    return b"Rar!\x1a\x07\x00" + (zlib.crc32(rest) & 0xFFFF).to_bytes(2, "little") + rest


@pytest.mark.parametrize("make", [_rar5, lambda: _rar5(4), _rar4], ids=["rar5", "rar5-encrypted-headers", "rar4"])
def test_a_rar_archive_anywhere_hides_the_file(make: Callable[[], bytes]) -> None:
    data = HEADER + make() + b"\x00" * 64
    assert kind(data) is None  # the control: the reader knew RAR only at the start
    got = contents(data)
    assert got.unscannable is not None and "RAR" in got.unscannable


@pytest.mark.parametrize("make", [_rar5, _rar4], ids=["rar5", "rar4"])
def test_a_rar_signature_without_its_header_s_crc_is_not_an_archive(make: Callable[[], bytes]) -> None:
    """The signature as a string in a program that handles RAR files: not hidden."""
    real = make()
    broken = real[:-3] + bytes(b ^ 0xFF for b in real[-3:])
    assert contents(HEADER + broken + b"\x00" * 64).unscannable is None
