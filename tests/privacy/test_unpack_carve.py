"""Streams found wherever they sit in a file (issue 11, the rt6 red team's cases): a raw zlib file,
a makeself installer, bzip2 after a header, ``.deb`` (ar) members, a cpio's gzip member, a git
bundle's PACK objects, PDF filters by token, and zstd hidden by its frame's structure. Each golden
case is found by the workspace scan and its clean twin is left alone (the near miss); the control is
main's reader, which only knew formats at offset 0: ``kind`` of each file is None, so before
carving its payload was never read. Then the costs' guards: ordinary binaries are not hidden by
false candidates, and a cap that is hit hides the file (fails closed).
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.privacy.test_unpack_formats import AWS, CLEAN, CONF, TOK, _learn, _tar, _zip

from codeward.privacy import unpack_carve
from codeward.privacy.contents import contents
from codeward.privacy.unpack import Budget, Fragment, kind
from codeward.privacy.unpack_carve import carve
from codeward.textenc import detect

HEADER = b'#!/bin/sh\n# makeself-style installer\ntail -c +513 "$0" | tar -xz\nexit 0\n'.ljust(512, b"#")


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    """An ar archive (a ``.deb``): a global header, then a 60-byte header before each member."""
    out = b"!<arch>\n"
    for name, body in members:
        head = f"{name + '/':16s}{0:<12d}{0:<6d}{0:<6d}{'100644':<8s}{len(body):<10d}`\n".encode()
        out += head + body + (b"\n" if len(body) % 2 else b"")
    return out


def _cpio(name: str, body: bytes) -> bytes:
    """One newc cpio record (what an initramfs is made of)."""
    nb = name.encode() + b"\0"
    fields = [1, 0o100644, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(nb), 0]
    rec = b"070701" + b"".join(f"{x:08x}".encode() for x in fields) + nb
    rec += b"\0" * (-len(rec) % 4)
    return rec + body + b"\0" * (-len(body) % 4)


def _pdf(dictionary: bytes, body: bytes) -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<<" + dictionary + b">>\nstream\n" + body + b"\nendstream\nendobj\n%%EOF\n"


def _bundle(text: str) -> bytes:
    """A git bundle of one commit holding ``app.conf`` (its PACK: zlib-deflated objects)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "app.conf").write_text(text)
        git = ["git", "-C", str(src), "-c", "user.name=a", "-c", "user.email=a@b", "-c", "core.hooksPath=/dev/null"]
        subprocess.run(["git", "init", "-q", str(src)], check=True)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "x"], check=True)
        subprocess.run([*git, "bundle", "create", "-q", str(Path(tmp) / "b.bundle"), "--all"], check=True)
        return (Path(tmp) / "b.bundle").read_bytes()


CARVED: dict[str, Callable[[str], bytes]] = {
    "raw-zlib": lambda t: zlib.compress(t.encode()),
    "raw-zlib-small-window": lambda t: (lambda z: z.compress(t.encode()) + z.flush())(
        zlib.compressobj(6, zlib.DEFLATED, 9)
    ),
    "makeself-tar-gz": lambda t: HEADER + gzip.compress(_tar({"etc/app.conf": t.encode()})),
    "bz2-after-header": lambda t: HEADER + bz2.compress(t.encode()),
    "lzma-alone-after-header": lambda t: HEADER + lzma.compress(t.encode(), format=lzma.FORMAT_ALONE),
    "xz-after-header": lambda t: HEADER + lzma.compress(("# line\n" * 40 + t).encode()),
    "deb-data-tar-xz": lambda t: _ar(
        [("debian-binary", b"2.0\n"), ("data.tar.xz", lzma.compress(_tar({"a": t.encode()})))]
    ),
    "deb-data-tar-gz": lambda t: _ar(
        [("debian-binary", b"2.0\n"), ("data.tar.gz", gzip.compress(_tar({"a": t.encode()})))]
    ),
    "cpio-gzip-member": lambda t: _cpio("app.conf.gz", gzip.compress(t.encode())) + _cpio("TRAILER!!!", b""),
    "zip-member-without-central-directory": lambda t: HEADER + _zip_local("app.conf", t.encode()),
    "git-bundle": _bundle,
    "stream-broken-after-the-secret": lambda t: HEADER + zlib.compress(t.encode())[:-6] + b"\xff" * 40,
    "pdf-Fl-glued": lambda t: _pdf(b"/Filter/Fl/Length 9", zlib.compress(t.encode())),
    "pdf-escaped-name": lambda t: _pdf(b"/Filter /Fl#61teDecode", zlib.compress(t.encode())),
    "pdf-asciihex": lambda t: _pdf(b"/Filter /ASCIIHexDecode", t.encode().hex().encode() + b">"),
    "pdf-ascii85": lambda t: _pdf(b"/Filter /A85", base64.a85encode(t.encode()) + b"~>"),
    "pdf-filter-array": lambda t: _pdf(b"/Filter [/A85 /Fl]", base64.a85encode(zlib.compress(t.encode())) + b"~>"),
    "pdf-filter-pushed-out-of-the-window": lambda t: _pdf(
        b"/Filter /FlateDecode /Pad (" + b"x" * 3000 + b")", zlib.compress(t.encode())
    ),
    # red team rt9: the word /Image elsewhere in the window, an image codec after Flate
    "pdf-image-procset-not-an-image": lambda t: _pdf(
        b"/Filter /FlateDecode /Resources << /ProcSet [/PDF /ImageB] >>", zlib.compress(t.encode())
    ),
    "pdf-flate-before-an-image-codec": lambda t: _pdf(
        b"/Filter [/FlateDecode /DCTDecode]", zlib.compress(b"\xff\xd8\xff\xe0" + gzip.compress(t.encode()))
    ),
    "pdf-unknown-filter-carved": lambda t: _pdf(b"/Filter /LZWDecode", b"\x80" + gzip.compress(t.encode())),
}


def _zip_local(name: str, body: bytes) -> bytes:
    """A zip local header and its deflated data, with no central directory after it."""
    import struct

    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = raw.compress(body) + raw.flush()
    head = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, zlib.crc32(body), len(data), len(body), len(name), 0
    )
    return head + name.encode() + data


@pytest.mark.parametrize("fmt", sorted(CARVED))
def test_a_stream_anywhere_in_the_file_is_read(tmp_path: Path, fmt: str) -> None:
    data = CARVED[fmt](CONF)
    # the control: no format at offset 0 that main's reader would have unpacked (None, or a PDF
    # whose filter main did not know)
    assert kind(data) in (None, "pdf")
    learner = _learn(tmp_path / "ws", "f.bin", data)
    assert learner.secret_paths() == {str(tmp_path / "ws" / "f.bin")}
    assert learner.unscannable == {}
    got = contents(data)
    # an all-ASCII PDF is text: shown redacted (its ASCIIHex/ASCII85 blobs whole, test_unpack_text.py)
    assert got.binary == (detect(data) != "utf-8") and got.unscannable is None
    assert any(TOK in t for t in got.texts) and any(AWS in t for t in got.texts)


@pytest.mark.parametrize("fmt", sorted(CARVED))
def test_the_same_stream_without_a_secret_is_left_alone(tmp_path: Path, fmt: str) -> None:
    learner = _learn(tmp_path / "ws", "f.bin", CARVED[fmt](CLEAN))
    assert learner.secret_paths() == set() and learner.unscannable == {}


def _zstd(data: bytes) -> bytes:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program here to make frames with (apt-get install zstd; scripts/test installs it)")
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def test_a_zstd_frame_anywhere_is_certain_and_hides_the_file() -> None:
    deb = _ar([("debian-binary", b"2.0\n"), ("data.tar.zst", _zstd(_tar({"a": CLEAN.encode()})))])
    got = contents(deb)
    assert got.unscannable is not None and "zstd" in got.unscannable and "hidden" in got.unscannable


def test_a_zstd_frame_cut_short_after_other_bytes_still_hides_the_file() -> None:
    """Red team rt9: ``tail -c +513 f | zstd -dc`` prints a cut frame's finished blocks."""
    frame = _zstd((CLEAN + os.urandom(300_000).hex()).encode())
    got = contents(HEADER + frame[:-1000])
    assert got.unscannable is not None and "zstd" in got.unscannable


def test_a_gzip_with_a_reserved_flag_bit_is_read_after_a_header(tmp_path: Path) -> None:
    """Red team rt9: zlib refuses such a header, Python's gzip module reads it."""
    member = bytearray(gzip.compress(CONF.encode()))
    member[3] |= 0x20
    assert gzip.decompress(bytes(member)) == CONF.encode()  # what a command gets
    learner = _learn(tmp_path / "ws", "blob.bin", HEADER + bytes(member))
    assert learner.secret_paths() == {str(tmp_path / "ws" / "blob.bin")}


def test_zstd_magic_alone_is_not_a_frame() -> None:
    """The magic as a constant in a library that links libzstd, code after it: no frame, not hidden."""
    code = b"\x7fELF" + b"\0" * 60 + b"\xb8\x28\xb5\x2f\xfd\x39\xc7\x75\x0a\x48\x89\xdf\xe8" * 50
    assert contents(code).unscannable is None


def test_a_7z_header_is_certain_only_with_its_crc() -> None:
    tail = bytes(range(20))
    real = b"junk" * 10 + b"7z\xbc\xaf\x27\x1c\x00\x04" + zlib.crc32(tail).to_bytes(4, "little") + tail
    got = contents(real)
    assert got.unscannable is not None and "7z" in got.unscannable
    assert contents(real.replace(tail, bytes(20))).unscannable is None  # the signature alone: no


def test_false_candidates_in_machine_code_cost_little_and_hide_nothing() -> None:
    """x86-64 code is full of zlib-looking pairs (``48 89`` is ``mov`` with REX.W): each is tried
    and dropped; the file is read as its strings, not hidden, and no payload comes out."""
    import random

    rng = random.Random(7)
    code = b"\x7fELF" + bytes(rng.randrange(256) for _ in range(200_000)) + b"\x48\x89\xe5\x48\x89\x7d" * 20_000
    got = contents(code)
    assert got.unscannable is None and got.binary
    streams = [p for p in carve(code, Budget()) if not isinstance(p, Fragment)]
    assert streams == []


def test_a_png_s_pixels_are_not_inflated_so_a_large_image_is_not_hidden() -> None:
    """An image whose pixels inflate to more than the budget (one IDAT, as optimisers write it)."""
    pixels = zlib.compress(b"\0" * (9 << 20))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    png = unpack_carve.PNG_MAGIC + chunk(b"IHDR", bytes(13)) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    assert contents(png).unscannable is None
    ico = b"\0\0\1\0\1\0" + bytes(16) + png  # an .ico (or .icns) holds PNGs after its own header
    assert contents(ico).unscannable is None
    # the near miss: the same stream outside a PNG's pixel data is read, and is over the budget
    got = contents(b"\x7fELF" + b"\0" * 60 + pixels)
    assert got.unscannable is not None and "more than 8 MiB" in got.unscannable


def test_a_decoy_that_decodes_for_a_while_does_not_hide_the_stream_it_covers() -> None:
    """A zlib header whose stored block swallows the real stream, then garbage: carving goes on
    inside the decoy, and the real stream is read (also from the decoy's fragment)."""
    real = gzip.compress(CONF.encode())
    n = len(real) + 10
    decoy = b"\x78\x01" + b"\x00" + n.to_bytes(2, "little") + (n ^ 0xFFFF).to_bytes(2, "little") + real
    got = contents(HEADER + decoy + b"\xff" * 64)
    assert got.unscannable is None and any(TOK in t for t in got.texts)


def test_more_candidates_than_the_cap_hide_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: carving that stops at its cap does not leave the rest of the file unread."""
    monkeypatch.setattr(unpack_carve, "MAX_CANDIDATES", 1000)
    empty = zlib.compress(b"")  # a whole stream: past the first check, so counted
    got = contents(b"\x01" + empty * 2000)
    assert got.unscannable is not None and "places that may start" in got.unscannable
    assert contents(b"\x01" + empty * 300).unscannable is None  # under the cap: read
    # pairs whose first bytes do not inflate are rejected in one call and not counted (rt9)
    assert contents(b"\x01" + b"\x78\x9c\x03" * 2000).unscannable is None


def test_a_table_full_of_zlib_looking_pairs_is_read() -> None:
    """Red team rt9: a 7 MB BED file of chromosome X (``chrX<TAB>``: ``X<TAB>`` is a zlib header
    pair) was hidden as "more than 250,000 places that may start a compressed stream"."""
    bed = "".join(f"chrX\t{1000000 + i * 37}\t{1000000 + i * 37 + 120}\n" for i in range(330_000)).encode()
    assert contents(bed).unscannable is None


def test_the_cpu_budget_stops_carving() -> None:
    data = b"\x01" + b"\x78\x9c\x03" * 20_000
    got = contents(data, Budget(cpu_seconds=0.0))
    assert got.unscannable is not None and "took more than" in got.unscannable


def test_inside_a_fragment_only_whole_streams_are_followed_and_broken_ones_cost_nothing() -> None:
    """Garbage decoded from garbage (a library's code read as deflate, then its output read again)
    grew threefold a level and put ``libasan.so`` over the budget: a fragment's own broken streams
    are dropped and not charged; a whole stream in it is still read."""
    from codeward.privacy.unpack import payloads

    broken = HEADER + zlib.compress(CLEAN.encode() * 20)[:-30] + b"\xff" * 40
    assert any(isinstance(p, Fragment) for p in carve(broken, Budget()))  # as a file: a fragment
    budget = Budget()
    assert list(payloads(Fragment(broken), budget)) == []
    assert budget.left == budget.max_bytes
    whole = list(payloads(Fragment(HEADER + gzip.compress(CONF.encode())), Budget()))
    assert whole == [CONF.encode()]


def test_text_is_carved_not_read_by_a_format_s_strict_reader() -> None:
    """Prose with ``ustar`` at offset 257 is no tar archive: the text stays readable (its candidates
    are carved, and a tar header needs its checksum), where the strict reader called it damaged."""
    text = ("x" * 257 + "ustar is the POSIX tar format\n" * 30).encode()
    got = contents(text)
    assert got.unscannable is None and not got.binary


def test_a_zlib_look_alike_pair_cannot_eat_a_real_header_s_first_byte() -> None:
    """Candidates are found by a non-overlapping search: that is sound only while no header's first
    byte (CMF) can be the second byte of a pair before it."""
    for prev in range(256):
        for cmf in unpack_carve._CMF:
            assert unpack_carve._ZLIB.match(bytes([prev, cmf])) is None


AROUND_AN_ARCHIVE: dict[str, Callable[[str], bytes]] = {
    # a local member before the archive that its central directory does not name: ``unzip`` lists
    # only the directory's members, a script that walks local headers reads it
    "zip-member-left-out-of-the-directory": lambda t: _zip_local("hidden.conf", t.encode()) + _zip({"a.txt": b"x"}),
    "stream-after-a-tar-s-end": lambda t: _tar({"a.txt": b"x"}) + gzip.compress(t.encode()),
    "stream-after-a-pdf-s-end": lambda t: (
        _pdf(b"/Filter /FlateDecode", zlib.compress(b"BT ET")) + gzip.compress(t.encode())
    ),
}


@pytest.mark.parametrize("fmt", sorted(AROUND_AN_ARCHIVE))
def test_what_an_archive_s_reader_does_not_name_is_carved(tmp_path: Path, fmt: str) -> None:
    data = AROUND_AN_ARCHIVE[fmt](CONF)
    assert kind(data) in ("zip", "tar", "pdf")  # the control: read by its format's reader, which skips it
    got = contents(data)
    assert got.unscannable is None and any(TOK in t for t in got.texts)
    clean = _learn(tmp_path / "ws", "f.bin", AROUND_AN_ARCHIVE[fmt](CLEAN))
    assert clean.secret_paths() == set() and clean.unscannable == {}


def _zip_hiding(extra: bytes) -> bytes:
    """A one-member zip whose member states a compressed size that takes ``extra`` in too, placed
    after its deflate stream's end: ``zipfile`` stops at the stream's end and the CRC holds."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", b"hello world " * 10)
    d = buf.getvalue()
    size = struct.unpack_from("<I", d, 18)[0]
    names = sum(struct.unpack_from("<HH", d, 26))
    end = 30 + names + size
    out = bytearray(d[:end] + extra + d[end:])
    struct.pack_into("<I", out, 18, size + len(extra))
    central = out.find(b"PK\x01\x02")
    struct.pack_into("<I", out, central + 20, size + len(extra))
    eocd = out.find(b"PK\x05\x06")
    struct.pack_into("<I", out, eocd + 16, struct.unpack_from("<I", out, eocd + 16)[0] + len(extra))
    return bytes(out)


def test_a_stream_inside_a_members_stated_size_but_past_its_data_is_carved() -> None:
    """Red team rt9: the bytes a member states but its deflate stream does not use were skipped."""
    data = _zip_hiding(gzip.compress(CONF.encode()))
    assert zipfile.ZipFile(io.BytesIO(data)).read("a.txt").startswith(b"hello")
    assert any(TOK in t or AWS in t for t in contents(data).texts)
