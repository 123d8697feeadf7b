"""rt6: compressed payloads not at offset 0 / formats the unpacker does not recognise. Each case
plants CONF (the same secrets as test_unpack_view_e2e) on the host and a command decodes it, shifted
by one, through the real bwrap sandbox and the gate. Failing = leaked."""
from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import subprocess
import tarfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.test_unpack_view_e2e import CONF, PY, SHIFT, _run, _tar, _tier, leaked
from tests.support.sessions import offline_session


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = b"!<arch>\n"
    for n, d in members:
        out += f"{n + '/':16s}{0:<12d}{0:<6d}{0:<6d}{'100644':<8s}{len(d):<10d}`\n".encode() + d + (b"\n" if len(d) % 2 else b"")
    return out


def _cpio(name: str, d: bytes) -> bytes:
    nb = name.encode() + b"\0"
    h = b"070701" + b"".join(f"{x:08x}".encode() for x in [1, 0o100644, 0, 0, 1, 0, len(d), 0, 0, 0, 0, len(nb), 0])
    rec = h + nb
    rec += b"\0" * ((-len(rec)) % 4)
    return rec + d + b"\0" * ((-len(d)) % 4)


def _pdf(dict_: bytes, body: bytes) -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<<" + dict_ + b">>\nstream\n" + body + b"\nendstream\nendobj\n%%EOF\n"


TAR = _tar({"etc/app.conf": CONF.encode()}, "w")
HDR = b"#!/bin/sh\n# makeself-style installer\ntail -c +513 \"$0\" | tar -xz\nexit 0\n".ljust(512, b"#")


def _bundle(r: Path) -> None:
    src = r.parent / "bsrc"
    src.mkdir()
    (src / "app.conf").write_text(CONF)
    g = ["git", "-C", str(src), "-c", "user.name=a", "-c", "user.email=a@b"]
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    subprocess.run([*g, "add", "."], check=True)
    subprocess.run([*g, "commit", "-qm", "x"], check=True)
    subprocess.run([*g, "bundle", "create", "-q", str(r / "backup.bundle"), "--all"], check=True)


def _zst(d: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=d, capture_output=True, check=True).stdout


def _w(name: str, data: Any) -> Any:
    return lambda r: (r / name).write_bytes(data() if callable(data) else data) and None


ATTACKS = {
    "raw-zlib": (_w("app.conf.z", zlib.compress(CONF.encode())),
                 f"{PY} \"import zlib,sys;sys.stdout.write(zlib.decompress(open('app.conf.z','rb').read()).decode())\""),
    "makeself-tar-gz": (_w("install.sh", HDR + gzip.compress(TAR)), "tail -c +513 install.sh | tar -xzO"),
    "bz2-after-header": (_w("blob.bin", HDR + bz2.compress(CONF.encode())), "tail -c +513 blob.bin | bzcat"),
    "deb-ar-tar-xz": (_w("pkg.deb", lambda: _ar([("debian-binary", b"2.0\n"), ("data.tar.xz", lzma.compress(TAR))])),
                      "ar p pkg.deb data.tar.xz | tar -xJO"),
    "deb-ar-tar-gz": (_w("pkg2.deb", lambda: _ar([("debian-binary", b"2.0\n"), ("data.tar.gz", gzip.compress(TAR))])),
                      "ar p pkg2.deb data.tar.gz | tar -xzO"),
    "deb-ar-tar-zst": (_w("pkg3.deb", lambda: _ar([("debian-binary", b"2.0\n"), ("data.tar.zst", _zst(TAR))])),
                       "ar p pkg3.deb data.tar.zst | zstd -dc | tar -xO"),
    "cpio-gz-member": (_w("initrd.cpio", lambda: _cpio("app.conf.gz", gzip.compress(CONF.encode())) + _cpio("TRAILER!!!", b"")),
                       f"{PY} \"import zlib,sys;d=open('initrd.cpio','rb').read();i=d.index(bytes([31,139]));sys.stdout.write(zlib.decompress(d[i:],31).decode())\""),
    "git-bundle": (_bundle, "git clone -q backup.bundle /tmp/bb && cat /tmp/bb/app.conf"),
    "pdf-Fl-no-space": (_w("a.pdf", _pdf(b"/Filter/Fl/Length 9", zlib.compress(CONF.encode()))),
                        f"{PY} \"import re,zlib,sys;d=open('a.pdf','rb').read();sys.stdout.write(zlib.decompress(re.search(rb'stream\\n(.*)\\nendstream',d,16).group(1)).decode())\""),
    "pdf-asciihex": (_w("b.pdf", _pdf(b"/Filter /ASCIIHexDecode", CONF.encode().hex().encode() + b">")),
                     f"{PY} \"import re,sys;d=open('b.pdf','rb').read();sys.stdout.write(bytes.fromhex(re.search(rb'stream\\n(.*)>\\nendstream',d,16).group(1).decode()).decode())\""),
    "pdf-ascii85": (_w("c.pdf", _pdf(b"/Filter /ASCII85Decode", base64.a85encode(CONF.encode()) + b"~>")),
                    f"{PY} \"import re,sys,base64;d=open('c.pdf','rb').read();sys.stdout.write(base64.a85decode(re.search(rb'stream\\n(.*)~>\\nendstream',d,16).group(1)).decode())\""),
    "hex-text-file": (_w("dump.hex", CONF.encode().hex().encode() + b"\n"),
                      f"{PY} \"import sys;sys.stdout.write(bytes.fromhex(open('dump.hex').read().strip()).decode())\""),
}


@pytest.mark.sandbox
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_rt6_leak(git_repo: Path, cw_home: Path, name: str) -> None:
    _tier(cw_home, "bwrap")
    setup, command = ATTACKS[name]
    setup(git_repo)
    s = offline_session(git_repo)
    out = _run(s, f"{command} | {SHIFT}")
    assert leaked(out) == [], out[-600:]


B64GZ = base64.b64encode(gzip.compress(CONF.encode())).decode()
HELM = base64.b64encode(base64.b64encode(gzip.compress(("{\"config\": " + repr(CONF) + "}").encode()))).decode()
TEXT_ATTACKS = {
    "b64-gzip-in-yaml": (_w("values.yaml", f"kind: ConfigMap\ndata:\n  blob: {B64GZ}\n".encode()),
                         f"{PY} \"import base64,gzip,re,sys;t=open('values.yaml').read();sys.stdout.write(gzip.decompress(base64.b64decode(re.search('blob: (.*)',t).group(1))).decode())\""),
    "helm-release-secret": (_w("release.yaml", f"apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\ndata:\n  release: {HELM}\n".encode()),
                            f"{PY} \"import base64,gzip,re,sys;t=open('release.yaml').read();sys.stdout.write(gzip.decompress(base64.b64decode(base64.b64decode(re.search('release: (.*)',t).group(1)))).decode())\""),
}


@pytest.mark.sandbox
@pytest.mark.parametrize("name", sorted(TEXT_ATTACKS))
def test_rt6_text_leak(git_repo: Path, cw_home: Path, name: str) -> None:
    ATTACKS[name] = TEXT_ATTACKS[name]
    test_rt6_leak(git_repo, cw_home, name)
