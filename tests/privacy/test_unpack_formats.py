"""Golden cases for what the workspace scan unpacks (issue 11): each format with a secret inside is
found (its file counted as holding a secret), the same format without one is left alone (the near
miss), and the control shows that the file's plain strings alone (what the scan read before) hold
no rule's match, so only the unpacking finds it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from codeward.privacy import unpack
from codeward.privacy.contents import contents
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.scanner import load_scanner
from codeward.privacy.unpack import Budget, kind
from codeward.textenc import printable_strings

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
CONF = f"# app settings\naws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\nregion = eu-west-1\n"
CLEAN = "# app settings\naws_secret_access_key = ${AWS_SECRET}\nGITHUB_TOKEN=${TOKEN}\nregion = eu-west-1\n"


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def _pdf(text: str) -> bytes:
    body = zlib.compress(f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode())
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Length "
        + str(len(body)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + body
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def _binary_with(text: str, codec: str) -> bytes:
    return b"\x7fELF\x02\x01\x01\0" + b"\0" * 56 + text.encode(codec) + b"\0\0\0\0\x01\x02"


def _wheel_in_zip(text: str) -> bytes:
    wheel = _zip({"pkg/settings.py": text.encode(), "pkg-1.0.dist-info/METADATA": b"Name: pkg\n"})
    jar = _zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "app.properties": text.encode("utf-16")})
    return _zip({"dist/pkg-1.0-py3-none-any.whl": wheel, "lib/app.jar": jar}, zipfile.ZIP_STORED)


FORMATS: dict[str, Callable[[str], bytes]] = {
    # LZMA2 stores a chunk that does not shrink as it is: compressible lines around the secret
    "xz": lambda t: lzma.compress(("# setting\n" * 40 + t).encode()),
    "lzma-alone": lambda t: lzma.compress(t.encode(), format=lzma.FORMAT_ALONE),
    "bzip2": lambda t: bz2.compress(t.encode()),
    "gzip-second-member": lambda t: gzip.compress(b"# part one\n") + gzip.compress(t.encode()),
    "xz-second-stream-after-padding": lambda t: (
        lzma.compress(b"# part one\n") + b"\0" * 4 + lzma.compress(("# line\n" * 40 + t).encode())
    ),
    "zip-in-zip": lambda t: _zip({"inner.zip": _zip({"app.conf": t.encode()})}),
    "whl-and-jar-in-zip": _wheel_in_zip,
    "zipapp": lambda t: b"#!/usr/bin/env python3\n" + _zip({"__main__.py": b"print(1)\n", "settings.py": t.encode()}),
    "tar": lambda t: _tar({"etc/app.conf": t.encode("utf-32")}),
    "tar-gz": lambda t: _tar({"etc/app.conf": t.encode()}, "w:gz"),
    "tar-xz": lambda t: _tar({"etc/app.conf": t.encode()}, "w:xz"),
    "tar-bz2": lambda t: _tar({"etc/app.conf": t.encode()}, "w:bz2"),
    "gzip-in-tar": lambda t: _tar({"backup/app.conf.gz": gzip.compress(t.encode())}),
    "pdf-flate": _pdf,
    "utf32le-strings": lambda t: _binary_with(t, "utf-32-le"),
    "utf32be-strings": lambda t: _binary_with(t, "utf-32-be"),
    "ebcdic-cp037": lambda t: _binary_with(t, "cp037"),
    "ebcdic-cp500": lambda t: _binary_with(t, "cp500"),
}


def _learn(ws: Path, name: str, data: bytes) -> WorkspaceSecrets:
    ws.mkdir(exist_ok=True)
    (ws / name).write_bytes(data)
    learner = WorkspaceSecrets(ws, load_scanner())
    learner.refresh()
    return learner


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_secret_inside_is_found_and_plain_strings_alone_miss_it(tmp_path: Path, fmt: str) -> None:
    data = FORMATS[fmt](CONF)
    scanner = load_scanner()
    # the control: what the scan read before (ASCII and UTF-16LE strings) holds no finding
    old_strings = "\n".join(m.group().decode() for m in re.finditer(rb"[\t\x20-\x7e]{8,}", data))
    old_strings += "\n".join(m.group().decode("utf-16-le") for m in re.finditer(rb"(?:[\t\x20-\x7e]\x00){8,}", data))
    assert scanner.scan(old_strings, path="f.bin") == []
    learner = _learn(tmp_path / "ws", "f.bin", data)
    assert learner.secret_paths() == {str(tmp_path / "ws" / "f.bin")}
    assert learner.unscannable == {}
    got = contents(data)
    assert got.binary and got.unscannable is None
    assert any(TOK in t for t in got.texts) and any(AWS in t for t in got.texts)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_same_format_without_a_secret_is_left_alone(tmp_path: Path, fmt: str) -> None:
    learner = _learn(tmp_path / "ws", "f.bin", FORMATS[fmt](CLEAN))
    assert learner.secret_paths() == set() and learner.unscannable == {}


def test_the_formats_are_told_apart_by_their_magic() -> None:
    assert kind(lzma.compress(b"x")) == "xz"
    assert kind(lzma.compress(b"x", format=lzma.FORMAT_ALONE)) == "lzma"
    big_dictionary = [{"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME}]
    assert kind(lzma.compress(b"x", format=lzma.FORMAT_ALONE, filters=big_dictionary)) == "lzma"
    assert kind(bz2.compress(b"x")) == "bzip2"
    assert kind(gzip.compress(b"x")) == "gzip"
    assert kind(_tar({"a": b"x"})) == "tar"
    assert kind(_zip({"a": b"x"})) == "zip"
    assert kind(b"\x28\xb5\x2f\xfd" + b"\0" * 20) == "zstd"
    assert kind(b"\x7fELF" + b"\0" * 600) is None
    assert kind(b"#!/usr/bin/env python3\n" + _zip({"a": b"x"})) == "zip-appended"
    assert kind(b"plain text that is long enough to be anything\n" * 20) is None


def test_ebcdic_runs_need_letters_and_ascii_capitals_are_not_taken_for_it() -> None:
    """Upper-case ASCII bytes spell EBCDIC punctuation (``K`` is ``,`` in cp037): no string from them."""
    data = b"\0" + b"KLMNOPQRSTUVWXYZ" + b"\0"
    assert printable_strings(data) == ["KLMNOPQRSTUVWXYZ"]


def test_utf16be_strings_keep_their_last_character() -> None:
    """The little-endian pattern reads big-endian text shifted by a byte, and drops its last
    character when no NUL follows it (a 36-character token is then 35: no rule matches)."""
    data = b"\x01" + f"token={TOK}".encode("utf-16-be") + b"\x01"
    assert f"token={TOK}" in printable_strings(data)


def test_a_little_endian_run_is_not_read_again_shifted_as_big_endian() -> None:
    data = b"\x01" + "wide string here".encode("utf-16-le") + b"\x01" + "four byte units!".encode("utf-32-le")
    assert printable_strings(data) == ["wide string here", "four byte units!"]


# --- the budget: a file that cannot be unpacked in full is unscannable (hidden), never let through


def _bomb_with_tail(text: str) -> bytes:
    """Zeros past the budget, then the secret: truncating at the budget would never see it."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(b"\0" * (unpack.MAX_INFLATED + (1 << 20))), z.compress(text.encode()), z.flush()]
    return b"".join(out)


def _nested(depth: int, text: str) -> bytes:
    data = text.encode()
    for i in range(depth):
        data = _zip({f"level{i}.zip" if i else "app.conf": data})
    return data


UNSCANNABLE: dict[str, tuple[Callable[[], bytes], str]] = {
    "gzip-bomb-with-secret-after-the-budget": (lambda: _bomb_with_tail(CONF), "more than 8 MiB"),
    "zip-bomb-member": (lambda: _zip({"zeros": b"\0" * (unpack.MAX_INFLATED + 1)}), "more than 8 MiB"),
    "nested-deeper-than-the-limit": (lambda: _nested(unpack.MAX_DEPTH + 1, CLEAN), "nested more than"),
    "truncated-gzip": (lambda: gzip.compress(CONF.encode() * 50)[:-40], "damaged"),
    "corrupt-zip": (lambda: _zip({"a.conf": CONF.encode() * 50})[:200] + b"\0" * 300, "zip archive"),
    "corrupt-xz": (lambda: lzma.compress(CONF.encode())[:30] + b"garbage" * 10, "xz"),
    "zstd-frame": (lambda: b"\x28\xb5\x2f\xfd\x24\x05\x29\0\0hello", "zstd"),
    "encrypted-zip-member": (
        lambda: (
            _zip({"a.conf": CLEAN.encode()}, zipfile.ZIP_STORED)
            .replace(b"PK\x03\x04\x14\x00\x00", b"PK\x03\x04\x14\x00\x01", 1)
            .replace(b"PK\x01\x02\x14\x03\x14\x00\x00", b"PK\x01\x02\x14\x03\x14\x00\x01", 1)
        ),
        "encrypted",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSCANNABLE))
def test_what_cannot_be_unpacked_in_full_is_hidden_with_its_reason(tmp_path: Path, case: str) -> None:
    make, why = UNSCANNABLE[case]
    data = make()
    assert kind(data) is not None
    learner = _learn(tmp_path / "ws", "f.bin", data)
    path = str(tmp_path / "ws" / "f.bin")
    assert learner.secret_paths() == {path}
    assert why in learner.unscannable[path], learner.unscannable


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    """The near miss of the depth limit: as deep as allowed, and the secret at the bottom is found."""
    learner = _learn(tmp_path / "ws", "f.bin", _nested(unpack.MAX_DEPTH, CONF))
    assert learner.secret_paths() == {str(tmp_path / "ws" / "f.bin")} and learner.unscannable == {}
    clean = _learn(tmp_path / "ws2", "f.bin", _nested(unpack.MAX_DEPTH, CLEAN))
    assert clean.secret_paths() == set()


def test_a_payload_just_under_the_budget_is_scanned_not_hidden(tmp_path: Path) -> None:
    data = gzip.compress(b"\0" * (unpack.MAX_INFLATED - 4096) + b"\nnothing secret\n")
    learner = _learn(tmp_path / "ws", "f.gz", data)
    assert learner.secret_paths() == set() and learner.unscannable == {}


def test_the_cpu_budget_stops_the_unpacking() -> None:
    """A budget of no time at all: the first step over it makes the file unscannable."""
    data = _tar({f"m{i}": CLEAN.encode() for i in range(200)}, "w:gz")
    assert contents(data).unscannable is None
    got = contents(data, Budget(cpu_seconds=0.0))
    assert got.unscannable is not None and "took more than" in got.unscannable


def test_an_archive_larger_than_the_read_limit_is_unscannable(tmp_path: Path) -> None:
    """A compressed file over 8 MiB is not read whole, and its payload would be over the budget anyway."""
    import os

    from codeward.privacy import learn

    ws = tmp_path / "ws"
    ws.mkdir()
    big = ws / "big.xz"
    big.write_bytes(lzma.compress(os.urandom(learn.MAX_FILE_BYTES + 1024), preset=0))
    learner = WorkspaceSecrets(ws, load_scanner())
    learner.refresh()
    assert learner.secret_paths() == {str(big)}
    assert "xz file larger than" in learner.unscannable[str(big)]


def test_a_pdf_image_stream_is_not_inflated_and_a_broken_text_stream_hides_the_pdf(tmp_path: Path) -> None:
    """Images hold no text and would put scanned documents over the budget: a 9 MiB image is left
    alone (the near miss); a text stream that does not inflate makes the PDF unscannable."""
    pixels = zlib.compress(b"\0" * (9 << 20))
    image = (
        b"%PDF-1.4\n2 0 obj\n<< /Type /XObject /Subtype /Image /Filter /FlateDecode /Length "
        + str(len(pixels)).encode()
        + b" >>\nstream\n"
        + pixels
        + b"\nendstream\nendobj\n"
    )
    assert contents(image).unscannable is None
    broken = _pdf(CLEAN).replace(b"stream\n", b"stream\n\xff\xff\xff", 1)
    got = contents(broken)
    assert got.unscannable is not None and "PDF stream" in got.unscannable


@pytest.mark.parametrize("codec", ["utf-32-le", "utf-16-be", "cp037"])
def test_a_wide_or_ebcdic_run_across_a_block_edge_of_a_large_binary_is_read_whole(codec: str) -> None:
    from codeward.privacy import contents as mod
    from codeward.privacy.contents import streamed_strings

    token = f"token={TOK}".encode(codec)
    data = b"\x01" * (mod.CHUNK - len(token) // 2) + token + b"\x01" * 100
    texts = list(streamed_strings(io.BytesIO(data), len(data)))
    assert any(f"token={TOK}" in t for t in texts)


def test_four_zip_end_bytes_in_a_binary_that_is_no_zip_leave_it_readable(tmp_path: Path) -> None:
    """The near miss of an appended zip: the end-of-directory bytes alone are read as strings."""
    data = b"\x7fELF" + b"\0" * 100 + b"PK\x05\x06" + b"\0" * 30
    assert kind(data) == "zip-appended"
    got = contents(data)
    assert got.unscannable is None and got.binary


def test_a_reader_surprise_hides_that_file_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no reader expects (a fuzzed zip raised ``ValueError: negative seek value``) makes
    that file unscannable; the other files are still scanned (one odd file must not make the
    learner fail, which refuses every command)."""
    import struct

    from codeward.privacy import contents as mod

    real = mod.payloads

    def odd(data: bytes, budget: Budget):  # type: ignore[no-untyped-def]
        if data.startswith(b"PK"):
            raise struct.error("unpack requires a buffer of 4 bytes")
        return real(data, budget)

    monkeypatch.setattr(mod, "payloads", odd)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "odd.zip").write_bytes(_zip({"a": b"x"}))
    (ws / "app.conf.xz").write_bytes(lzma.compress(("# line\n" * 40 + CONF).encode()))
    learner = _learn(ws, "clean.txt", b"nothing\n")
    assert learner.secret_paths() == {str(ws / "odd.zip"), str(ws / "app.conf.xz")}
    assert learner.unscannable == {str(ws / "odd.zip"): "could not be unpacked (error)"}


def test_a_zip_member_name_that_is_not_its_claimed_utf8_is_unscannable() -> None:
    data = bytearray(_zip({"abcd.txt": b"x"}, zipfile.ZIP_STORED))
    for magic, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(magic)
        data[at + flags : at + flags + 2] = (0x800).to_bytes(2, "little")  # "the name is UTF-8"
    at = data.find(b"abcd.txt", data.find(b"PK\x01\x02"))
    data[at] = 0xB7
    got = contents(bytes(data))
    assert got.unscannable is not None and "zip archive" in got.unscannable, got.unscannable
