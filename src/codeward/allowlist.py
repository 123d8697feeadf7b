"""The grammar of ``[sandbox] allowed_domains`` entries: one parser for config validation and the proxy.

An entry names what a sandboxed command may reach over HTTPS, and nothing looser:

- ``pypi.org``: exactly that name (case-insensitive, a trailing dot ignored), port 443;
- ``registry.internal:8443``: that name on port 8443 (each entry names one port);
- ``*.pythonhosted.org``: any name with exactly ONE more label in front (``files.pythonhosted.org``),
  never the bare ``pythonhosted.org`` and never ``a.b.pythonhosted.org``; the star is the whole
  leading label and at least two labels follow it (``*.org`` is refused). One label, like a TLS
  wildcard certificate, keeps what a command can choose (and so send to the domain's DNS servers)
  to one short label;
- ``10.0.0.5``, ``10.0.0.5:8080``, ``[2001:db8::1]:443``: that address. Listing an address is also how
  a user allows a private, loopback or link-local destination, which the proxy refuses otherwise.

A URL (``https://pypi.org``), a path, ``*`` alone, a star anywhere else, or a port outside 1-65535 is
refused with the fix. This module imports nothing from codeward: config and the sandbox both read it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORT = 443

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True)
class Entry:
    """One parsed entry: ``host`` normalised (a wildcard keeps its ``*.``), the port, and its kind."""

    host: str
    port: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.address is not None and self.address.version == 6 else self.host
        return host if self.port == DEFAULT_PORT else f"{host}:{self.port}"


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets."""
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    while h.endswith("."):
        h = h[:-1]
    return h


def as_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` spells in canonical dotted or colon form, else None (``2130706433`` is None)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def valid_name(host: str) -> bool:
    """A DNS name of LDH labels (underscore allowed), at most 253 characters, not all digits."""
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.match(x) for x in labels):
        return False
    return not labels[-1].isdigit()


def _split_port(text: str, raw: str) -> tuple[str, int]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{raw!r}: missing ']' after the IPv6 address")
        host, rest = text[: end + 1], text[end + 1 :]
        if not rest:
            return host, DEFAULT_PORT
        if not rest.startswith(":"):
            raise ValueError(f"{raw!r}: expected :PORT after ']'")
        port_s = rest[1:]
    elif text.count(":") == 1:
        host, port_s = text.split(":")
    else:
        return text, DEFAULT_PORT  # a bare IPv6 address (several colons) or a name without a port
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ValueError(f"{raw!r}: the port must be a number from 1 to 65535")
    return host, int(port_s)


def parse_entry(raw: str) -> Entry:
    """Parse one entry; ValueError says what is wrong and what to write instead."""
    text = raw.strip()
    if "://" in text:
        host = text.split("://", 1)[1].split("/", 1)[0]
        raise ValueError(f"{raw!r}: write the host name without a scheme or path, like {host!r}")
    if "/" in text or "?" in text or "@" in text or " " in text:
        raise ValueError(f"{raw!r}: write a host name or host:port only, no path, user or spaces")
    if text in ("*", "*:443") or text.startswith("*:"):
        raise ValueError(f"{raw!r}: '*' would allow every host; list the names commands need, like 'pypi.org'")
    host, port = _split_port(text, raw)
    h = normalise_host(host)
    addr = as_address(h)
    if addr is not None:
        return Entry(str(addr), port, addr)
    if h.startswith("*."):
        rest = h[2:]
        if "*" in rest or not valid_name(rest) or "." not in rest:
            raise ValueError(
                f"{raw!r}: a wildcard is '*.' followed by a domain of at least two labels, like '*.example.com'"
            )
        return Entry(h, port)
    if "*" in h:
        raise ValueError(f"{raw!r}: '*' may only be the whole first label, like '*.example.com'")
    if not valid_name(h):
        raise ValueError(f"{raw!r}: not a host name, host:port or IP address (like 'pypi.org' or 'host:8443')")
    return Entry(h, port)


def name_matches(entry: Entry, host: str) -> bool:
    """Whether the normalised name ``host`` is one ``entry`` names (names only; addresses compare as addresses)."""
    if entry.address is not None:
        return False
    if entry.wildcard:
        suffix = entry.host[1:]  # ".example.com"
        head = host[: -len(suffix)] if host.endswith(suffix) else ""
        return bool(head) and "." not in head and valid_name(host)
    return host == entry.host


def covers(outer: Entry, inner: Entry) -> bool:
    """Whether every destination ``inner`` allows is also allowed by ``outer`` (for intersecting lists)."""
    if outer.port != inner.port:
        return False
    if outer.address is not None or inner.address is not None:
        return outer.address is not None and outer.address == inner.address
    if inner.wildcard:
        return outer.host == inner.host
    return name_matches(outer, inner.host)
