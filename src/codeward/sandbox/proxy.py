"""``allowed_domains``: HTTPS to listed hosts only, through a CONNECT proxy that runs on the host.

The sandbox keeps its empty network namespace. The proxy listens on a unix socket in a private
directory, which bwrap binds into the sandbox; a small bridge started inside (``BRIDGE_SOURCE``)
listens on ``127.0.0.1:3128`` there and relays each connection to that socket, and the proxy
variables point at it. A tool that ignores the variables has no route out at all.

The proxy judges each ``CONNECT host:port``: the host must match ``allowed_domains`` exactly or as
``*.suffix`` (case-insensitive, trailing dot ignored), the port must be 443 unless the entry names
one (``host:8443``), IP literals pass only when listed, and a name that resolves to a loopback,
link-local, multicast or unspecified address is refused (DNS rebinding towards the host or the
cloud metadata service). Anything else, including plain ``GET http://...``, gets a 403.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

BRIDGE_PORT = 3128
MAX_HEADER = 16 * 1024
MAX_CONNECTIONS = 64
IDLE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class _Entry:
    host: str  # normalised; "*.example.com" keeps its star
    port: int
    literal_ip: bool


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets."""
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    while h.endswith("."):
        h = h[:-1]
    return h


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def parse_entry(raw: str) -> _Entry:
    """``example.com``, ``*.example.com``, ``example.com:8443``, ``10.0.0.5``, ``[::1]:443``."""
    text = raw.strip()
    port = 443
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"allowed_domains entry {raw!r}: missing ']'")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = int(p)
    else:
        host = text
    h = normalise_host(host)
    if not h or not 0 < port < 65536:
        raise ValueError(f"allowed_domains entry {raw!r} is not a host name")
    return _Entry(h, port, _is_ip(h))


class DomainPolicy:
    """Decides whether ``CONNECT host:port`` may pass (pure; resolution is the proxy's job)."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self.entries = [parse_entry(a) for a in allowed]

    def match(self, host: str, port: int) -> _Entry | None:
        h = normalise_host(host)
        if not h:
            return None
        ip = _is_ip(h)
        for e in self.entries:
            if e.port != port:
                continue
            if ip or e.literal_ip:
                if ip and e.literal_ip and ipaddress.ip_address(h) == ipaddress.ip_address(e.host):
                    return e
                continue
            if e.host.startswith("*."):
                if h.endswith(e.host[1:]) and len(h) > len(e.host) - 1:
                    return e
            elif h == e.host:
                return e
        return None

    def refusal(self, host: str, port: int) -> str | None:
        """Why the target is refused, or None when it is allowed."""
        if self.match(host, port) is None:
            return f"{normalise_host(host)}:{port} is not in [sandbox] allowed_domains"
        return None


def forbidden_address(addr: str) -> bool:
    """Addresses an allowed *name* must not resolve to: loopback, link-local, multicast, unspecified."""
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved


def parse_connect(head: bytes) -> tuple[str, int] | None:
    """``(host, port)`` of a ``CONNECT host:port HTTP/1.x`` request head, else None."""
    try:
        line = head.split(b"\r\n", 1)[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT" or not parts[2].startswith("HTTP/1."):
        return None
    target = parts[1]
    if target.startswith("["):
        end = target.find("]")
        if end < 0 or target[end + 1 : end + 2] != ":":
            return None
        host, port_s = target[1:end], target[end + 2 :]
    else:
        host, sep, port_s = target.rpartition(":")
        if not sep:
            return None
    if not port_s.isdigit() or not host:
        return None
    port = int(port_s)
    if not 0 < port < 65536:
        return None
    return host, port


def _reply(conn: socket.socket, status: str, reason: str) -> None:
    body = f"codeward sandbox: {reason}\n".encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        "X-Proxy-Error: blocked-by-allowlist\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError):
        conn.sendall(head + body)


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Relay both directions until either side closes or nothing moves for IDLE_TIMEOUT_S."""
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [], IDLE_TIMEOUT_S)
        if not r:
            return
        for s in r:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            other = b if s is a else a
            try:
                other.sendall(data)
            except OSError:
                return


@dataclass
class ConnectProxy:
    """A CONNECT-only proxy on a unix socket (bwrap) or on ``127.0.0.1`` (Landlock), in threads."""

    policy: DomainPolicy
    unix_path: str | None = None
    blocked: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._srv: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._lock = threading.Lock()

    def start(self) -> ConnectProxy:
        if self.unix_path is not None:
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(self.unix_path)
            os.chmod(self.unix_path, 0o600)
        else:
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.bind(("127.0.0.1", 0))
            self.port = srv.getsockname()[1]
        srv.listen(64)
        srv.settimeout(0.2)
        self._srv = srv
        self._thread = threading.Thread(target=self._serve, name="codeward-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._srv is not None:
            self._srv.close()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)

    def __enter__(self) -> ConnectProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._srv is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                _reply(conn, "503 Service Unavailable", "too many connections")
                conn.close()
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _note(self, bucket: list[str], what: str) -> None:
        with self._lock:
            if what not in bucket and len(bucket) < 100:
                bucket.append(what)

    def _handle(self, conn: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            conn.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
                if len(head) > MAX_HEADER:
                    _reply(conn, "431 Request Header Fields Too Large", "request head too large")
                    return
            request, _, early = head.partition(b"\r\n\r\n")
            target = parse_connect(request)
            if target is None:
                first = request.split(b"\r\n", 1)[0][:200].decode("ascii", "replace")
                self._note(self.blocked, f"non-CONNECT request ({first.split(' ')[0]})")
                _reply(conn, "403 Forbidden", "only HTTPS through CONNECT is allowed by the sandbox proxy")
                return
            host, port = target
            why = self.policy.refusal(host, port)
            if why is not None:
                self._note(self.blocked, f"{normalise_host(host)}:{port}")
                _reply(conn, "403 Forbidden", why)
                return
            entry = self.policy.match(host, port)
            assert entry is not None
            try:
                infos = socket.getaddrinfo(normalise_host(host), port, type=socket.SOCK_STREAM)
            except OSError:
                _reply(conn, "502 Bad Gateway", f"cannot resolve {host}")
                return
            if not entry.literal_ip and any(forbidden_address(str(i[4][0])) for i in infos):
                self._note(self.blocked, f"{normalise_host(host)}:{port} (resolves to a local address)")
                _reply(conn, "403 Forbidden", f"{host} resolves to a loopback or link-local address")
                return
            last: OSError | None = None
            for family, stype, proto, _, addr in infos:
                s = socket.socket(family, stype, proto)
                s.settimeout(15)
                try:
                    s.connect(addr)
                    upstream = s
                    break
                except OSError as e:
                    last = e
                    s.close()
            if upstream is None:
                _reply(conn, "502 Bad Gateway", f"cannot connect to {host}:{port}: {last}")
                return
            self._note(self.allowed, f"{normalise_host(host)}:{port}")
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if early:
                upstream.sendall(early)
            conn.settimeout(None)
            upstream.settimeout(None)
            _pump(conn, upstream)
        except OSError:
            return
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()
            self._slots.release()


# Runs inside the sandbox as ``python -I -S -c BRIDGE_SOURCE HOST PORT UNIX_PATH -- ARGV...``: listens
# on HOST:PORT, forks a relay that forwards every connection to UNIX_PATH, and execs ARGV once the
# port is open (so the command never races the bridge). Standard library only.
BRIDGE_SOURCE = r"""
import os, select, socket, sys, threading
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
argv = sys.argv[5:]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
def pump(a, b):
    try:
        while True:
            r, _, _ = select.select([a, b], [], [], 300)
            if not r:
                return
            for s in r:
                d = s.recv(65536)
                if not d:
                    return
                (b if s is a else a).sendall(d)
    except OSError:
        pass
    finally:
        a.close(); b.close()
def serve():
    while True:
        c, _ = srv.accept()
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            u.connect(path)
        except OSError:
            c.close(); u.close(); continue
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
if os.fork() == 0:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        serve()
    finally:
        os._exit(0)
srv.close()
try:
    os.execvp(argv[0], argv)
except OSError as e:
    sys.stderr.write("%s: %s\n" % (argv[0], e.strerror))
    os._exit(127 if e.errno == 2 else 126)
"""
