"""Red team rt16: files from which a standard tool prints a planted token that the workspace scan
(``WorkspaceSecrets.refresh``) neither found nor hid, so the redacted view showed them raw. The
cases fixed (the rest are README limits):

1. ``decode._wrapped_blobs``: ``base64`` / ``xxd -p`` output whose last line is 40 characters or
   more with no padding (about a third of ``base64 .env`` outputs) was not read as one blob.
2. ``decode_hexdump``: ``hexdump -C`` pads its last, short line with spaces; that line was dropped.
3. ``decode._large_blob``: base64 of plain text over 64 KiB (one line, or wrapped) was not decoded.
4. ``unpack_lz4.decode_block``: an offset-0 match, which ``lz4`` 1.9.4 decodes on past.
5. ``unpack.kind``: a ``.Z`` file (``compress``, LZW) was neither read nor hidden: hidden now.
6. ``unpack._zip`` / ``unpack_base.tar_members``: a zip directory entry with data, a tar member of a
   type tar does not know (GNU tar extracts it as a normal file).
7. ``contents._text_file``: EBCDIC text with no NUL byte, read as UTF-8 (its letters lost).

Each case builds the file, shows the named tool prints the token (``_tool_prints``), and asserts the
scan marks the file; its control (the same without the trick) is marked too, which shows the scan
reads that format otherwise. ``test_a_scripted_model_reads_every_trick_through_the_real_program``
puts every case in one workspace and drives ``codeward exec --json -a full-auto`` on bubblewrap
against the loopback model: no piece of a token may reach the server.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.test_unpack_view_e2e import SHIFT, _tier, leaked
from tests.support.cli import codeward
from tests.support.model_server import strings

from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.scanner import load_scanner
from codeward.privacy.unpack_lz4 import FRAME_MAGIC, xxh32_short

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
CONF = f"# app settings\naws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\nregion = eu-west-1\n".encode()
HEADER = b"\x7fELF\x02\x01\x01" + bytes(57)
"""Any 64 bytes before the stream (an ELF header's start here): ``tail -c +65 f`` skips them."""
END = b"\n-- the end of it all --\n"


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"no {tool} here")


def _lits(s: bytes) -> bytes:
    """A last sequence: literals only."""
    if len(s) < 15:
        return bytes([len(s) << 4]) + s
    r, ext = len(s) - 15, b""
    while r >= 255:
        ext, r = ext + b"\xff", r - 255
    return b"\xf0" + ext + bytes([r]) + s


def _seq(s: bytes, offset: int, mlen: int) -> bytes:
    """Literals ``s`` (fewer than 15) then a match of ``mlen`` bytes ``offset`` back."""
    m = mlen - 4
    out = bytes([(len(s) << 4) | min(m, 15)]) + s + offset.to_bytes(2, "little")
    if m >= 15:
        r = m - 15
        out += b"\xff" * (r // 255) + bytes([r % 255])
    return out


def _block(secret: str, zero: bool, pad: int = 0) -> bytes:
    """One LZ4 block that prints ``secret`` whole, written as 4-byte literals apart (no string of 8)
    and matches that join them; with ``zero``, one more match with offset 0 before the last literals."""
    b = secret.encode()
    pieces = [b[i : i + 4] for i in range(0, len(b), 4)]
    lit = b"".join(p + b"\0" for p in pieces)
    out = bytes([0xF0, len(lit) - 15]) + lit + (1).to_bytes(2, "little")  # the pieces, then 4 NULs
    pos = len(lit) + 4
    for i in range(len(pieces)):
        out += _seq(b"", pos - i * 5, 4)
        pos += 4
    out += _seq(b"\n", 0 if zero else 1, 4)
    return out + _lits(END + b"-" * pad)


def _frame(blocks: list[bytes]) -> bytes:
    desc = bytes([0x60, 0x40])  # version 1, independent blocks, no checksums; 64 KiB blocks
    out = FRAME_MAGIC + desc + bytes([(xxh32_short(desc) >> 8) & 0xFF])
    for b in blocks:
        out += len(b).to_bytes(4, "little") + b
    return out + bytes(4)


def offset_zero(zero: bool = True) -> tuple[bytes, int, str]:
    """Finding 1: a frame after a header whose block has an offset-0 match (``zero``)."""
    return HEADER + _frame([_block(TOK, zero)]), len(HEADER), "lz4 -dc"


def tar_unknown_type(unknown: bool = True) -> tuple[bytes, int, str]:
    """Finding 3: a tar member of an unknown type (``Z``): GNU tar extracts it "as normal file"
    (``tar -xOf f.tar app.conf.gz`` prints it), ``tarfile`` skips its data (``tar_members`` yields
    ``isfile()`` members only) and ``_tar`` carves nothing up to the archive's end."""
    import io
    import tarfile

    gz = gzip.compress(CONF, mtime=0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("app.conf.gz")
        info.size = len(gz)
        info.type = b"Z" if unknown else tarfile.REGTYPE
        t.addfile(info, io.BytesIO(gz))
    return buf.getvalue(), 0, "tar -xOf - app.conf.gz | zcat"


def base64_one_line(big: bool = True) -> tuple[bytes, int, str]:
    """Finding 7: text base64-encoded on one line (``base64 -w0``) of more than 64 KiB: a blob over
    ``decode.MAX_BLOB`` is decoded only when it starts like compressed data
    (``decode._large_compressed``), so plain text in it is never read; ``base64 -d`` prints it.
    The control is the same under 64 KiB (found)."""
    import base64

    filler = b"".join(b"log line %d: request served in %d ms\n" % (i, i % 97) for i in range(2000))
    return base64.b64encode(filler[: 60_000 if big else 30_000] + CONF) + b"\n", 0, "base64 -d"


def _lzw(data: bytes) -> bytes:
    """``compress(1)``'s format (``1f 9d``, block mode, 16-bit maximum), every code 9 bits wide:
    enough for an input of fewer than 255 new strings."""
    table = {bytes([i]): i for i in range(256)}
    codes, w, nxt = [], b"", 257
    for c in data:
        if w + bytes([c]) in table:
            w += bytes([c])
        else:
            codes.append(table[w])
            table[w + bytes([c])], nxt, w = nxt, nxt + 1, bytes([c])
    codes.append(table[w])
    assert nxt <= 512
    acc = sum(code << (9 * i) for i, code in enumerate(codes))
    return b"\x1f\x9d\x90" + acc.to_bytes((9 * len(codes) + 7) // 8, "little")


def lzw_compress(lzw: bool = True) -> tuple[bytes, int, str]:
    """Finding 12: a ``.Z`` file (``compress``, LZW): GNU ``zcat``/``gunzip``/``uncompress`` read it;
    codeward has no reader and, unlike zstd, 7z and RAR, does not hide it (``unpack.kind`` and the
    carve's magics do not know ``1f 9d``); its strings hold nothing. The control: gzip."""
    return (_lzw(CONF) if lzw else gzip.compress(CONF, mtime=0)), 0, "zcat"


def zip_dir_with_data(directory: bool = True) -> tuple[bytes, int, str]:
    """Finding 2d: a zip "directory" entry (``docs/``) with data: ``unpack._zip`` skips a directory
    entry's span unread (``info.is_dir()``), so its data is neither a payload nor carved;
    ``zipfile.ZipFile(f).read('docs/')`` returns it all the same. Control: a file entry."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("docs/" if directory else "docs"), gzip.compress(CONF, mtime=0))
        z.writestr("readme.txt", b"hello\n")
    name = "docs/" if directory else "docs"
    py = f"import zipfile,sys;sys.stdout.buffer.write(zipfile.ZipFile('{{f}}').read('{name}'))"
    return buf.getvalue(), 0, f'python3 -c "{py}" | zcat'


def base64_wrapped(big: bool = True) -> tuple[bytes, int, str]:
    """Finding 7b: the same with ``base64``'s default 76-column lines, the token across two lines:
    ``decode._wrapped_blobs`` joins the lines only to call ``_large_compressed`` over 64 KiB, and
    each line alone holds half a token. Control: the same text under 64 KiB (joined, found)."""
    import base64

    filler = b"".join(b"log line %d: request served in %d ms\n" % (i, i % 97) for i in range(3000))
    pre = filler[: 70_000 if big else 30_000]
    pad = (57 - 20 - (len(pre) + 1 + 4)) % 57  # the token's 21st byte starts a 57-byte line
    body = pre + b"#" * pad + b"\nsee " + TOK.encode() + b"\n"
    assert body.index(TOK.encode()) % 57 == 37
    return base64.encodebytes(body), 0, "base64 -d"


def _wrapped_dump(tool: str, width: int, decode: str) -> Any:
    """Finding 14: ``base64`` (76 columns) or ``xxd -p`` (60) output of a small text whose last
    line is 40 characters or more with no ``=`` padding: ``decode._WRAPPED``'s repeated group
    ``(?:[A-Za-z0-9+/]{40,}\r?\n)+`` takes the last line too (the file ends in a newline), the run's
    widths are then two, and ``_wrapped_blobs`` skips it; each line is decoded alone, and a token
    across a line break is in neither. The control has one byte more (padding, or a short line)."""

    def make(trick: bool = True) -> tuple[bytes, int, str]:
        pre = b"# notes\n"
        pad = (width - 20 - (len(pre) + 4)) % width  # the token's 21st byte starts a line
        body = pre + b"#" * pad + b"see " + TOK.encode() + b"\n"
        tail = (25 if tool == "xxd -p" else 30) if trick else (10 if tool == "xxd -p" else 31)
        body += b"x" * ((tail - len(body) % width) % width)
        _needs(tool.split()[0])
        return subprocess.run(tool.split(), input=body, capture_output=True, check=True).stdout, 0, decode

    return make


def hexdump_c_last_line(trick: bool = True) -> tuple[bytes, int, str]:
    """Finding 15: ``hexdump -C`` pads its last, short line with spaces before the ``|...|`` column;
    ``decode_hexdump._LINES``' hexdump pattern allows one or two spaces after a pair only, so that
    line is not part of the run and its bytes are never decoded: a token that ends there is cut.
    ``xxd -r`` cannot read this layout, but ``hexdump -C`` output is what the README lists, and
    ``cut -c11-58 | xxd -r -p`` restores it. Control: more text after the token."""
    _needs("hexdump")
    body = b"#" * 12 + b"\nsee " + TOK.encode() + b"\n" + (b"" if trick else b"trailer text after\n" * 5)
    dump = subprocess.run(["hexdump", "-C"], input=body, capture_output=True, check=True).stdout
    return dump, 0, "cut -c11-58 | xxd -r -p"


def ebcdic_without_nul(trick: bool = True) -> tuple[bytes, int, str]:
    """A mainframe export in EBCDIC (code page 037) with no NUL byte passed for UTF-8 text, whose
    letters then decode to replacement characters: ``iconv -f IBM037`` prints the token. Control: the
    same with one NUL byte (read as a binary, its EBCDIC strings scanned)."""
    _needs("iconv")
    data = CONF.decode().encode("cp037")
    return (data if trick else data + b"\0"), 0, "iconv -f IBM037 -t UTF-8"


CASES = {
    "hexdump-c-last-line": hexdump_c_last_line,
    "base64-last-line-swallowed": _wrapped_dump("base64", 57, "base64 -d"),
    "xxd-p-last-line-swallowed": _wrapped_dump("xxd -p", 30, "xxd -r -p"),
    "base64-wrapped-over-64k": base64_wrapped,
    "zip-dir-with-data": zip_dir_with_data,
    "lzw-dot-z": lzw_compress,
    "base64-one-line-over-64k": base64_one_line,
    "tar-unknown-type": tar_unknown_type,
    "lz4-offset-zero": offset_zero,
    "ebcdic-without-nul": ebcdic_without_nul,
}


def _tool_prints(data: bytes, start: int, tool: str, tmp_path: Path) -> bytes:
    _needs(tool.split()[0])
    f = tmp_path / "blob.bin"
    f.write_bytes(data)
    if not tool.startswith("strings"):  # a plain string is found by the strings scan: not the point here
        strings_out = subprocess.run(["strings", "-n", "8", str(f)], capture_output=True, check=True).stdout
        assert TOK.encode() not in strings_out and AWS.encode() not in strings_out
    cmd = tool.format(f=f) if "{f}" in tool else f"tail -c +{start + 1} {f} | {tool}"
    return subprocess.run(cmd, shell=True, capture_output=True).stdout


def _found(data: bytes, tmp_path: Path) -> bool:
    """Whether the workspace scan marks the file (a secret found, or unscannable: hidden)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "blob.bin").write_bytes(data)
    learner = WorkspaceSecrets(ws, load_scanner())
    learner.refresh()
    return bool(learner.secret_paths() or learner.unscannable)


@pytest.mark.parametrize("name", sorted(CASES))
def test_control_without_the_trick_the_scan_finds_it(name: str, tmp_path: Path) -> None:
    data, start, tool = CASES[name](False)
    assert TOK.encode() in _tool_prints(data, start, tool, tmp_path)
    assert _found(data, tmp_path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_standard_tool_prints_the_token_the_scan_must_see_it(name: str, tmp_path: Path) -> None:
    data, start, tool = CASES[name](True)
    assert TOK.encode() in _tool_prints(data, start, tool, tmp_path)  # what a command reads
    assert _found(data, tmp_path), "the scan neither found the token nor hid the file"


@pytest.mark.sandbox
def test_a_scripted_model_reads_every_trick_through_the_real_program(
    model_server: Any, git_repo: Path, cw_home: Path
) -> None:
    """End to end on bubblewrap: each file in the workspace, the model asks for ``tail -c +N f | TOOL``
    (shifted by one character so no rule or known value follows it); the server must get no piece."""
    _needs("lz4")
    steps: list[dict[str, Any]] = []
    for name, make in sorted(CASES.items()):
        data, start, tool = make(True)
        (git_repo / f"{name}.bin").write_bytes(data)
        cmd = tool.format(f=f"{name}.bin") if "{f}" in tool else f"tail -c +{start + 1} {name}.bin | {tool}"
        steps.append({"tool": "shell", "args": {"command": f"{cmd} | {SHIFT}"}})
    steps.append({"tool": "shell", "args": {"command": "echo eu-west-1 ok"}})
    steps.append({"text": "done"})
    model_server.script(steps)
    _tier(cw_home, "bwrap", model_server.url)
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    sent = "\n".join(x for r in model_server.requests for x in strings(json.loads(r.body)))
    assert "eu-west-1 ok" in sent  # the commands ran
    # each command's output is the tool message after it, in the last request
    outputs = [m for m in json.loads(model_server.requests[-1].body)["messages"] if m.get("role") == "tool"]
    per_case = {name: leaked(str(m.get("content"))) for name, m in zip(sorted(CASES), outputs, strict=False)}
    assert sorted(n for n, p in per_case.items() if p) == [], per_case
    assert leaked(sent) == []
