"""allowed_domains: the host-side CONNECT proxy, its policy, and the bridge into the sandbox."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from codeward.sandbox.proxy import ConnectProxy, DomainPolicy, forbidden_address, parse_connect, parse_entry


@pytest.mark.parametrize(
    ("allowed", "host", "port", "ok"),
    [
        (["pypi.org"], "pypi.org", 443, True),
        (["pypi.org"], "PyPI.org.", 443, True),
        (["pypi.org"], "files.pypi.org", 443, False),
        (["pypi.org"], "pypi.org", 80, False),
        (["pypi.org"], "pypi.org.evil.com", 443, False),
        (["pypi.org"], "evilpypi.org", 443, False),
        (["*.pythonhosted.org"], "files.pythonhosted.org", 443, True),
        (["*.pythonhosted.org"], "a.b.pythonhosted.org", 443, True),
        (["*.pythonhosted.org"], "pythonhosted.org", 443, False),
        (["*.pythonhosted.org"], "xpythonhosted.org", 443, False),
        (["registry.internal:8443"], "registry.internal", 8443, True),
        (["registry.internal:8443"], "registry.internal", 443, False),
        (["pypi.org"], "127.0.0.1", 443, False),
        (["pypi.org"], "2130706433", 443, False),
        (["pypi.org"], "[::1]", 443, False),
        (["10.0.0.5"], "10.0.0.5", 443, True),
        (["10.0.0.5"], "10.0.0.6", 443, False),
        (["[2001:db8::1]:443"], "2001:db8::1", 443, True),
        (["*.example.com"], "127.0.0.1", 443, False),
        ([], "pypi.org", 443, False),
    ],
)
def test_domain_policy(allowed: list[str], host: str, port: int, ok: bool) -> None:
    assert (DomainPolicy(allowed).refusal(host, port) is None) is ok


def test_bad_entries_are_refused() -> None:
    for bad in ("", "host:0", "host:70000", "[::1"):
        with pytest.raises(ValueError):
            parse_entry(bad)


def test_parse_connect() -> None:
    assert parse_connect(b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org") == ("pypi.org", 443)
    assert parse_connect(b"CONNECT [::1]:8443 HTTP/1.1") == ("::1", 8443)
    assert parse_connect(b"GET http://pypi.org/ HTTP/1.1") is None
    assert parse_connect(b"CONNECT pypi.org HTTP/1.1") is None
    assert parse_connect(b"CONNECT pypi.org:99999 HTTP/1.1") is None
    assert parse_connect(b"CONNECT pypi.org:443 SMTP/1.0") is None


def test_forbidden_addresses() -> None:
    for addr in ("127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "::ffff:127.0.0.1", "224.0.0.1", "fe80::1%eth0"):
        assert forbidden_address(addr), addr
    for addr in ("10.1.2.3", "151.101.0.223", "2a04:4e42::223"):
        assert not forbidden_address(addr), addr


class Echo:
    """A host TCP server that echoes, and counts connections and bytes (ground truth)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            data = c.recv(4096)
            self.received += data
            c.sendall(b"echo:" + data)
            c.close()


def _connect_via(proxy_port: int, target: str, payload: bytes) -> tuple[bytes, bytes]:
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status, _, rest = head.partition(b"\r\n\r\n")
    body = rest
    if status.startswith(b"HTTP/1.1 200"):
        s.sendall(payload)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
    s.close()
    return status.split(b"\r\n")[0], body


def test_proxy_on_host_tunnels_only_allowed_targets() -> None:
    echo = Echo()
    with ConnectProxy(DomainPolicy([f"127.0.0.1:{echo.port}", f"localhost:{echo.port}"])) as proxy:
        status, body = _connect_via(proxy.port, f"127.0.0.1:{echo.port}", b"hello")
        assert status == b"HTTP/1.1 200 Connection established"
        assert body == b"echo:hello"
        status, body = _connect_via(proxy.port, f"127.0.0.2:{echo.port}", b"x")
        assert status == b"HTTP/1.1 403 Forbidden"
        assert b"not in [sandbox] allowed_domains" in body
        # an allowed *name* that resolves to loopback is refused (DNS rebinding)
        status, _ = _connect_via(proxy.port, f"localhost:{echo.port}", b"x")
        assert status == b"HTTP/1.1 403 Forbidden"
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        s.sendall(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 403")
        s.close()
    assert echo.connections == 1
    assert bytes(echo.received) == b"hello"
    assert "127.0.0.2:" + str(echo.port) in proxy.blocked


INSIDE = r"""
import os, socket, sys
port = int(sys.argv[1])
proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
s = socket.create_connection((proxy[0].split("//")[1], int(proxy[1])), timeout=10)
s.sendall(("CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % port).encode())
head = s.recv(4096)
print("proxy:", head.split(b"\r\n")[0].decode())
s.sendall(b"through-proxy")
print("reply:", s.recv(4096).decode())
try:
    d = socket.create_connection(("127.0.0.1", port), timeout=3)
    d.sendall(b"direct")
    print("direct: connected")
except OSError as e:
    print("direct: refused", e.errno)
"""


@pytest.mark.sandbox
def test_allowlist_inside_sandbox_and_direct_connection_fails(confined: Any, tmp_path: Path) -> None:
    from codeward.sandbox import SandboxSpec

    echo = Echo()
    spec = SandboxSpec(workspace=tmp_path, cwd=tmp_path, allowed_domains=(f"127.0.0.1:{echo.port}",), timeout_s=30)
    r = confined.run(["python3", "-c", INSIDE, str(echo.port)], spec)
    assert "proxy: HTTP/1.1 200 Connection established" in r.output, r.output
    assert "reply: echo:through-proxy" in r.output
    assert "direct: refused" in r.output
    # ground truth on the host: exactly one connection, and only the proxied bytes
    assert echo.connections == 1
    assert bytes(echo.received) == b"through-proxy"


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.sandbox
def test_real_https_through_the_allowlist(confined: Any, tmp_path: Path) -> None:
    import shutil

    if shutil.which("curl") is None or not _pypi_reachable():
        pytest.skip("needs curl and a route to pypi.org from this machine")
    from codeward.sandbox import SandboxSpec

    spec = SandboxSpec(workspace=tmp_path, cwd=tmp_path, allowed_domains=("pypi.org",), timeout_s=60)
    r = confined.run(
        [
            "bash",
            "-c",
            "curl -sS -m 30 -o /dev/null -w 'allowed=%{http_code}\\n' https://pypi.org/simple/pip/; "
            "curl -sS -m 10 -o /dev/null https://example.com/; echo blocked_rc=$?; "
            "curl -sS -m 10 -o /dev/null --noproxy '*' https://pypi.org/simple/; echo direct_rc=$?",
        ],
        spec,
    )
    assert "allowed=200" in r.output, r.output
    assert "blocked_rc=56" in r.output
    assert "direct_rc=0" not in r.output
    assert r.note is not None and "example.com:443" in r.note
