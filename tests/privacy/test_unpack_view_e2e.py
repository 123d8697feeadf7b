"""Issue 11 on the real tiers: secrets inside compressed files, archives within archives, PDF streams,
UTF-32 and EBCDIC strings, and files the scan cannot unpack in full (a bomb with the secret after
its zeros, zstd) never reach the model, even shifted by one character (no rule or known value
follows that). Each attack also runs with the unpacking switched off (the scan of before: plain
ASCII and UTF-16LE strings, no payloads): the strict xfail control, which must leak.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
CONF = f"# app settings\naws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\nregion = eu-west-1\n"
SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"
PY = "python3 -c"


def leaked(text: str) -> list[str]:
    """10-character pieces of a planted secret, plain or shifted back by one."""
    found: list[str] = []
    for d in (text, "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in text)):
        for s in (TOK[4:], AWS):
            found += [s[i : i + 10] for i in range(len(s) - 9) if s[i : i + 10] in d]
    return sorted(set(found))


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def _pdf() -> bytes:
    body = zlib.compress(f"BT ({CONF}) Tj ET".encode())
    head = b"%PDF-1.4\n1 0 obj\n<< /Length " + str(len(body)).encode() + b" /Filter /FlateDecode >>\nstream\n"
    return head + body + b"\nendstream\nendobj\n%%EOF\n"


def _bomb() -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(b"\0" * (9 << 20)) + z.compress(CONF.encode()) + z.flush()


def _zstd(r: Path) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program here to make frames with (apt-get install zstd; scripts/test installs it)")
    (r / "app.conf").write_text(CONF)
    subprocess.run(["zstd", "-q", "--rm", "app.conf", "-o", "app.conf.zst"], cwd=r, check=True)


def _write(name: str, make: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda r: (r / name).write_bytes(make()) and None


ELF = b"\x7fELF\x02\x01\x01\0" + b"\0" * 56
ATTACKS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (setup, command, the file it reads)
    "xz": (
        _write("app.conf.xz", lambda: lzma.compress(("# line\n" * 40 + CONF).encode())),
        "xzcat app.conf.xz",
        "app.conf.xz",
    ),
    "bzip2": (_write("app.conf.bz2", lambda: bz2.compress(CONF.encode())), "bzcat app.conf.bz2", "app.conf.bz2"),
    "zip-in-zip": (
        _write("bundle.zip", lambda: _zip({"inner.zip": _zip({"app.conf": CONF.encode()})})),
        f"{PY} \"import io,zipfile as Z;i=Z.ZipFile('bundle.zip').read('inner.zip');print(Z.ZipFile(io.BytesIO(i)).read('app.conf').decode())\"",
        "bundle.zip",
    ),
    "tar-xz": (
        _write("backup.tar.xz", lambda: _tar({"etc/app.conf": CONF.encode()}, "w:xz")),
        "tar -xJOf backup.tar.xz",
        "backup.tar.xz",
    ),
    "gzip-in-tar": (
        _write("backup.tar", lambda: _tar({"etc/app.conf.gz": gzip.compress(CONF.encode())}, "w")),
        "tar -xOf backup.tar | zcat",
        "backup.tar",
    ),
    "pdf-flate": (
        _write("doc.pdf", _pdf),
        f"{PY} \"import re,zlib;d=open('doc.pdf','rb').read();print(zlib.decompress(re.search(rb'stream\\n(.*)\\nendstream',d,16).group(1)).decode())\"",
        "doc.pdf",
    ),
    "utf32-strings": (
        _write("blob.bin", lambda: ELF + CONF.encode("utf-32-le") + b"\0\x01"),
        f"{PY} \"print(open('blob.bin','rb').read()[64:].decode('utf-32-le','replace'))\"",
        "blob.bin",
    ),
    "ebcdic-strings": (
        _write("export.dat", lambda: ELF + CONF.replace("\n", " ").encode("cp037") + b"\0\x01"),
        f"{PY} \"print(open('export.dat','rb').read()[64:].decode('cp037','replace'))\"",
        "export.dat",
    ),
    "bomb-tail": (_write("big.gz", _bomb), "zcat big.gz | tail -c 300", "big.gz"),
    "zstd": (_zstd, "zstd -dc app.conf.zst", "app.conf.zst"),
}
CONTROL = pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: without the unpacking it leaks")


def _tier(cw_home: Path, tier: str, url: str = "http://127.0.0.1:9/v1") -> None:
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    write_config(cw_home, url, "chat", extra=f'[sandbox]\ntier = "{tier}"\noutput_cap_bytes = 1048576')


def _run(s: Any, command: str) -> str:
    from codeward.providers.types import ToolCall

    out = str(s.agent.tools.dispatch(ToolCall("c0", "shell", json.dumps({"command": command})), s.ctx).text)
    body = {"messages": [{"role": "tool", "tool_call_id": "c0", "content": out}]}
    return str(json.loads(s.gate.prepare(body, record=False).body)["messages"][0]["content"])


def _old_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan before issue 11: no payloads unpacked beyond nothing, strings in ASCII and UTF-16LE."""
    import re

    from codeward.privacy import contents

    def old_strings(data: bytes) -> list[str]:
        out = [m.group().decode("ascii") for m in re.finditer(rb"[\t\x20-\x7e]{8,}", data)]
        return out + [m.group().decode("utf-16-le") for m in re.finditer(rb"(?:[\t\x20-\x7e]\x00){8,}", data)]

    def no_payloads(data: bytes, budget: Any) -> Iterator[bytes]:
        return iter(())

    monkeypatch.setattr(contents, "printable_strings", old_strings)
    monkeypatch.setattr(contents, "payloads", no_payloads)


def _cases() -> list[Any]:
    out = []
    for name in sorted(ATTACKS):
        out.append(pytest.param(name, True, id=f"{name}-unpacked"))
        out.append(pytest.param(name, False, id=f"{name}-old-scan", marks=(CONTROL,)))
    return out


@pytest.mark.sandbox
@pytest.mark.parametrize(("name", "unpacked"), _cases())
def test_a_shifted_secret_from_inside_the_file_stays_off_the_wire(
    git_repo: Path, cw_home: Path, monkeypatch: pytest.MonkeyPatch, name: str, unpacked: bool
) -> None:
    _tier(cw_home, "bwrap")
    setup, command, target = ATTACKS[name]
    setup(git_repo)
    if not unpacked:
        _old_scan(monkeypatch)
    s = offline_session(git_repo)
    out = _run(s, f"{command} | {SHIFT}")
    assert leaked(out) == [], out
    # the file is hidden, not shown redacted or raw; a read of it fails and the note names it
    probe = _run(s, f"cat {target} > /dev/null")
    assert not probe.startswith("exit code: 0") and target in probe, probe


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_scripted_model_unpacking_every_format_gets_nothing(
    model_server: Any, git_repo: Path, cw_home: Path, tier: str
) -> None:
    """The whole product (``codeward exec``, the loopback model) on both tiers, every attack in one
    session: what the server received holds no piece of either secret, even shifted."""
    names = [n for n in sorted(ATTACKS) if n != "zstd" or shutil.which("zstd")]
    for n in names:
        ATTACKS[n][0](git_repo)
    steps: list[dict[str, Any]] = [{"tool": "shell", "args": {"command": f"{ATTACKS[n][1]} | {SHIFT}"}} for n in names]
    steps.append({"tool": "shell", "args": {"command": "ls -la; cat region.txt 2>/dev/null; echo eu-west-1 ok"}})
    steps.append({"text": "done"})
    model_server.script(steps)
    _tier(cw_home, tier, model_server.url)
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert len(model_server.requests) == len(steps)
    sent = "\n".join(x for r in model_server.requests for x in strings(json.loads(r.body)))
    assert leaked(sent) == []
    assert "eu-west-1 ok" in sent  # the commands ran
