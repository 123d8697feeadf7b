"""The rt6 red team's cases on the real bubblewrap tier: streams that do not start their file (a
makeself installer, bzip2 after a header, ``.deb`` members in xz, gzip and zstd, a cpio's gzip
member, a git bundle, a raw zlib file), PDF filters spelled another way (``/Filter/Fl``, ASCIIHex,
ASCII85) and text that encodes a config (a hex dump, base64 of gzip in a ConfigMap, a Helm
release). A command decodes each and shifts the result by one character; nothing of either secret
may reach the model. Each also runs with the scan of before this change (no carving, no PDF filters
but ``/FlateDecode``, base64 of text only): the strict xfail control, which must leak.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import lzma
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.test_unpack_carve import HEADER, _ar, _cpio, _pdf
from tests.privacy.test_unpack_view_e2e import CONF, PY, SHIFT, _run, _tar, _tier, leaked
from tests.support.sessions import offline_session

TAR = _tar({"etc/app.conf": CONF.encode()}, "w")


def _write(name: str, make: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda r: (r / name).write_bytes(make()) and None


def _zstd_deb(r: Path) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program here to make frames with (apt-get install zstd; scripts/test installs it)")
    zst = subprocess.run(["zstd", "-q", "-c"], input=TAR, capture_output=True, check=True).stdout
    (r / "pkg3.deb").write_bytes(_ar([("debian-binary", b"2.0\n"), ("data.tar.zst", zst)]))


def _bundle(r: Path) -> None:
    from tests.privacy.test_unpack_carve import _bundle as make

    (r / "backup.bundle").write_bytes(make(CONF))


def _read(expr: str) -> str:
    """A python3 one-liner printing ``expr`` (bytes) decoded as UTF-8."""
    return f'{PY} "import base64,gzip,re,sys,zlib;sys.stdout.write(({expr}).decode())"'


_STREAM = "re.search(rb'stream\\\\n(.*?)\\\\n?endstream',open('{}','rb').read(),16).group(1)"
HELM = base64.b64encode(gzip.compress(('{"config": ' + repr(CONF) + "}").encode())).decode()
ATTACKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "raw-zlib": (
        _write("app.conf.z", lambda: zlib.compress(CONF.encode())),
        _read("zlib.decompress(open('app.conf.z','rb').read())"),
    ),
    "makeself-tar-gz": (
        _write("install.sh", lambda: HEADER + gzip.compress(TAR)),
        "tail -c +513 install.sh | tar -xzO",
    ),
    "bz2-after-header": (
        _write("blob.bin", lambda: HEADER + bz2.compress(CONF.encode())),
        "tail -c +513 blob.bin | bzcat",
    ),
    "deb-tar-xz": (
        _write("pkg.deb", lambda: _ar([("debian-binary", b"2.0\n"), ("data.tar.xz", lzma.compress(TAR))])),
        "ar p pkg.deb data.tar.xz | tar -xJO",
    ),
    "deb-tar-gz": (
        _write("pkg2.deb", lambda: _ar([("debian-binary", b"2.0\n"), ("data.tar.gz", gzip.compress(TAR))])),
        "ar p pkg2.deb data.tar.gz | tar -xzO",
    ),
    "deb-tar-zst": (_zstd_deb, "ar p pkg3.deb data.tar.zst | zstd -dc | tar -xO"),
    "cpio-gzip-member": (
        _write("initrd.cpio", lambda: _cpio("app.conf.gz", gzip.compress(CONF.encode())) + _cpio("TRAILER!!!", b"")),
        _read("(lambda d: zlib.decompress(d[d.index(bytes([31,139])):],31))(open('initrd.cpio','rb').read())"),
    ),
    "git-bundle": (_bundle, "git clone -q backup.bundle /tmp/bb && cat /tmp/bb/app.conf"),
    "pdf-Fl-glued": (
        _write("a.pdf", lambda: _pdf(b"/Filter/Fl/Length 9", zlib.compress(CONF.encode()))),
        _read("zlib.decompress(" + _STREAM.format("a.pdf") + ")"),
    ),
    "pdf-asciihex": (
        _write("b.pdf", lambda: _pdf(b"/Filter /ASCIIHexDecode", CONF.encode().hex().encode() + b">")),
        _read("bytes.fromhex(" + _STREAM.format("b.pdf") + ".decode().rstrip('>'))"),
    ),
    "pdf-ascii85": (
        _write("c.pdf", lambda: _pdf(b"/Filter /ASCII85Decode", base64.a85encode(CONF.encode()) + b"~>")),
        _read("base64.a85decode(" + _STREAM.format("c.pdf") + "[:-2])"),
    ),
    "hex-dump": (
        _write("dump.hex", lambda: CONF.encode().hex().encode() + b"\n"),
        _read("bytes.fromhex(open('dump.hex').read().strip())"),
    ),
    "configmap-base64-gzip": (
        _write(
            "values.yaml",
            lambda: (
                f"kind: ConfigMap\ndata:\n  blob: {base64.b64encode(gzip.compress(CONF.encode())).decode()}\n".encode()
            ),
        ),
        _read("gzip.decompress(base64.b64decode(re.search('blob: (.*)',open('values.yaml').read()).group(1)))"),
    ),
    "helm-release-configmap": (
        _write("release.yaml", lambda: f"kind: ConfigMap\ndata:\n  release: {HELM}\n".encode()),
        _read("gzip.decompress(base64.b64decode(re.search('release: (.*)',open('release.yaml').read()).group(1)))"),
    ),
}
CONTROL = pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: the scan of before leaks it")


def _old_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan before this change: formats at offset 0 only, PDF ``/FlateDecode`` or ``/Fl `` only,
    base64 of printable text only."""
    import re

    from codeward.privacy import contents, decode, unpack, unpack_pdf

    def no_carving(data: bytes, budget: Any, **how: Any) -> Iterator[bytes]:
        return iter(())

    def old_blob(blob: bytes) -> bytes | None:
        raw = None if decode._is_hex(blob) else decode._base64(blob)
        return decode._text(raw) if raw is not None and len(raw) >= 6 else None

    old_filter = re.compile(rb"/Filter\s*(/FlateDecode|/Fl(?= ))")
    monkeypatch.setattr(unpack, "carve", no_carving)
    monkeypatch.setattr(unpack_pdf, "carve", no_carving)
    monkeypatch.setattr(unpack_pdf, "_FILTER", old_filter)
    monkeypatch.setattr(contents, "may_hold_stream", lambda data: False)
    monkeypatch.setattr(decode, "decode_blob", old_blob)
    monkeypatch.setattr(decode, "_a85_blobs", lambda data: iter(()))


def _cases() -> list[Any]:
    out = []
    for name in sorted(ATTACKS):
        out.append(pytest.param(name, True, id=f"{name}-carved"))
        out.append(pytest.param(name, False, id=f"{name}-old-scan", marks=(CONTROL,)))
    return out


@pytest.mark.sandbox
@pytest.mark.parametrize(("name", "new"), _cases())
def test_a_shifted_secret_from_a_stream_anywhere_stays_off_the_wire(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, name: str, new: bool
) -> None:
    _tier(cw_home, "bwrap")
    setup, command = ATTACKS[name]
    setup(git_repo)
    if not new:
        _old_scan(monkeypatch)
    s = offline_session(git_repo)
    out = _run(s, f"{command} | {SHIFT}")
    if not new:
        # the control shows the leak only if the command read the file: under a loaded machine the
        # file may be withheld for another reason (counted unscannable past the unpacking budget),
        # and then this control has shown nothing either way
        assert out.startswith("exit code: 0"), out[-600:]
    assert leaked(out) == [], out[-600:]
