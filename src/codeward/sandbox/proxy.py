"""``allowed_domains``: HTTPS to listed hosts only, through a CONNECT proxy that runs on the host.

The sandbox keeps its empty network namespace. The proxy listens on a unix socket in a private
directory, which bwrap binds into the sandbox; a small bridge started inside (``BRIDGE_SOURCE``)
listens on ``127.0.0.1:3128`` there and relays each connection to that socket, and the proxy
variables point at it. A tool that ignores the variables has no route out at all.

The proxy judges each ``CONNECT host:port`` against the entries (grammar in :mod:`codeward.allowlist`):
a name matches an entry exactly, or a ``*.suffix`` entry with exactly one label in front; the port
must be the entry's (443 unless it names one); an IP literal passes only when that address is
listed. The proxy then resolves the name itself and connects only to the addresses it checked:
when any answer is not a public unicast address (loopback, private 10/8 172.16/12 192.168/16,
CGNAT 100.64/10, link-local, fc00::/7, multicast, reserved, or an IPv4 address embedded in IPv6)
the connection is refused, unless the user listed that very address (and port). So neither DNS
rebinding nor a name a repository controls can point a command at the host, the LAN or the cloud
metadata service. Anything else, including plain ``GET http://...``, gets a 403. Every connection,
tunnelled or refused, is reported to ``on_connection`` (host, port, address, bytes each way) so
the caller can put it in the audit log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeward.allowlist import Entry, as_address, name_matches, normalise_host
from codeward.allowlist import parse_entry as _parse_entry

BRIDGE_PORT = 3128
MAX_HEADER = 16 * 1024
MAX_CONNECTIONS = 64
IDLE_TIMEOUT_S = 300.0
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

__all__ = ["ConnectProxy", "Connection", "DomainPolicy", "forbidden_address", "normalise_host", "parse_connect"]


def parse_entry(raw: str) -> Entry:
    """One ``allowed_domains`` entry (ValueError with the fix when it is not one)."""
    return _parse_entry(raw)


@dataclass(frozen=True)
class Connection:
    """One CONNECT the proxy saw: what was asked, where it went, how much moved, or why it was refused."""

    host: str
    port: int
    address: str | None = None
    bytes_up: int = 0
    bytes_down: int = 0
    refused: str | None = None


class DomainPolicy:
    """Decides whether ``CONNECT host:port`` may pass and which resolved addresses it may use (pure)."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self.entries = [_parse_entry(a) for a in allowed]
        self.listed_addresses = {(e.address, e.port) for e in self.entries if e.address is not None}

    def match(self, host: str, port: int) -> Entry | None:
        h = normalise_host(host)
        if not h:
            return None
        addr = as_address(h)
        for e in self.entries:
            if e.port != port:
                continue
            if addr is not None:
                if e.address == addr:
                    return e
            elif name_matches(e, h):
                return e
        return None

    def refusal(self, host: str, port: int) -> str | None:
        """Why the target is refused, or None when it is allowed."""
        if self.match(host, port) is None:
            return f"{normalise_host(host)}:{port} is not in [sandbox] allowed_domains"
        return None

    def address_refusal(self, addr: str, port: int) -> str | None:
        """Why a resolved address may not be used, or None: non-public addresses need their own entry."""
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
        if (ip, port) in self.listed_addresses or not forbidden_address(addr):
            return None
        return f"resolves to {ip}, a private, loopback or link-local address (list {ip} itself to allow it)"


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_address(addr: str) -> bool:
    """True for every address that is not public unicast, looking through IPv4 embedded in IPv6."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            ip = inner
    return ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global


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


def _pump(client: socket.socket, upstream: socket.socket) -> tuple[int, int]:
    """Relay both directions until either side closes or nothing moves for IDLE_TIMEOUT_S.

    Returns the bytes moved (client to upstream, upstream to client) for the connection record.
    """
    moved = {client: 0, upstream: 0}
    socks = [client, upstream]
    while True:
        r, _, _ = select.select(socks, [], [], IDLE_TIMEOUT_S)
        if not r:
            break
        done = False
        for s in r:
            try:
                data = s.recv(65536)
            except OSError:
                done = True
                break
            if not data:
                done = True
                break
            try:
                (upstream if s is client else client).sendall(data)
            except OSError:
                done = True
                break
            moved[s] += len(data)
        if done:
            break
    return moved[client], moved[upstream]


@dataclass
class ConnectProxy:
    """A CONNECT-only proxy on a unix socket (bwrap) or on ``127.0.0.1`` (Landlock), in threads."""

    policy: DomainPolicy
    unix_path: str | None = None
    blocked: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    port: int = 0
    on_connection: Callable[[Connection], None] | None = None
    """Called once per CONNECT when it ends (from the proxy's threads; keep it quick and thread-safe)."""

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

    def _report(self, record: Connection) -> None:
        if self.on_connection is not None:
            with contextlib.suppress(Exception):  # a broken observer must not break the tunnel
                self.on_connection(record)

    def _handle(self, conn: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            head = self._read_head(conn)
            if head is None:
                return
            request, _, early = head.partition(b"\r\n\r\n")
            target = parse_connect(request)
            if target is None:
                first = request.split(b"\r\n", 1)[0][:200].decode("ascii", "replace")
                self._note(self.blocked, f"non-CONNECT request ({first.split(' ')[0]})")
                _reply(conn, "403 Forbidden", "only HTTPS through CONNECT is allowed by the sandbox proxy")
                return
            host, port = normalise_host(target[0]), target[1]
            why = self.policy.refusal(host, port)
            if why is not None:
                self._refuse(conn, host, port, why, "403 Forbidden")
                return
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError:
                self._refuse(conn, host, port, f"cannot resolve {host}", "502 Bad Gateway")
                return
            for info in infos:
                why = self.policy.address_refusal(str(info[4][0]), port)
                if why is not None:
                    self._refuse(conn, host, port, f"{host} {why}", "403 Forbidden")
                    return
            upstream, address, err = _connect_any(infos)
            if upstream is None:
                self._refuse(conn, host, port, f"cannot connect to {host}:{port}: {err}", "502 Bad Gateway")
                return
            self._note(self.allowed, f"{host}:{port}")
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if early:
                upstream.sendall(early)
            conn.settimeout(None)
            upstream.settimeout(None)
            up, down = _pump(conn, upstream)
            self._report(Connection(host, port, address, up + len(early), down))
        except OSError:
            return
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()
            self._slots.release()

    def _read_head(self, conn: socket.socket) -> bytes | None:
        conn.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            head += chunk
            if len(head) > MAX_HEADER:
                _reply(conn, "431 Request Header Fields Too Large", "request head too large")
                return None
        return head

    def _refuse(self, conn: socket.socket, host: str, port: int, why: str, status: str) -> None:
        """Answer ``status`` with ``why``, remember the target for the run's note, report the refusal."""
        listed = why.endswith("allowed_domains")
        self._note(self.blocked, f"{host}:{port}" if listed else f"{host}:{port} ({why})")
        _reply(conn, status, why)
        self._report(Connection(host, port, refused=why))


def _connect_any(infos: list[tuple[Any, ...]]) -> tuple[socket.socket | None, str | None, OSError | None]:
    """Connect to the first of the checked addresses that answers (never re-resolving the name)."""
    last: OSError | None = None
    for family, stype, proto, _, addr in infos:
        s = socket.socket(family, stype, proto)
        s.settimeout(15)
        try:
            s.connect(addr)
            return s, str(addr[0]), None
        except OSError as e:
            last = e
            s.close()
    return None, None, last


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
