"""Where audit records are shipped: syslog (RFC 5424 over TCP) or a JSON-lines HTTP endpoint.

``[audit] sink`` is a URL:

* ``syslog+tcp://HOST:PORT`` (alias ``syslog://``): each record is one RFC 5424 message, framed by
  octet counting (RFC 6587 §3.4.1), facility 13 ("log audit"), severity info, APP-NAME
  ``codeward``, MSGID the record type, structured data ``[codeward@32473 sid="…" seq="N"]`` (32473
  is the example enterprise number of RFC 5612) and the record's exact line as MSG, so a
  collector can verify it like the local log.
* ``http://…`` / ``https://…``: POSTs of ``application/x-ndjson`` bodies, the exact record lines;
  any 2xx is delivery. Every line carries ``sid`` and ``seq``, so a receiver can drop a repeat.
* ``otlp+http://HOST:PORT`` / ``otlp+https://…``: OpenTelemetry logs over OTLP/HTTP with the JSON
  encoding, POSTed to ``/v1/logs`` (or the path given): one log record per audit record, body the
  exact line, attributes ``codeward.session_id``, ``codeward.seq``, ``codeward.record_type``.

A transport either delivers a whole batch or raises :class:`OSError`; the queue
(:mod:`codeward.audit.ship`) decides what is retried. Plain TCP syslog has no acknowledgement: a
record written just as the collector dies can be lost in its socket buffer. Before each write the
connection is checked for an orderly close from the peer (a stopped collector), which covers a
collector that is stopped or restarted between records; RELP or the HTTP sink close the rest.
"""

from __future__ import annotations

import json
import os
import select
import socket
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from codeward.errors import UsageError

FACILITY_LOG_AUDIT = 13
SEVERITY_INFO = 6
SD_ID = "codeward@32473"


class Transport(Protocol):
    url: str

    def send(self, lines: Sequence[bytes]) -> None: ...

    def probe(self) -> None: ...

    def close(self) -> None: ...


def syslog_frame(line: bytes, hostname: str, pid: int) -> bytes:
    """One record as an octet-counted RFC 5424 message."""
    rec = json.loads(line)
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_INFO
    msgid = "".join(c for c in str(rec.get("type", "-")) if 33 <= ord(c) <= 126)[:32] or "-"
    sid = str(rec.get("sid", "")).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    header = (
        f'<{pri}>1 {rec.get("ts", "-")} {hostname} codeward {pid} {msgid} [{SD_ID} sid="{sid}" seq="{rec.get("seq")}"] '
    )
    msg = header.encode("ascii", "replace") + line
    return str(len(msg)).encode() + b" " + msg


class SyslogTcp:
    """RFC 5424 over one TCP connection, reconnected when it was closed."""

    def __init__(self, url: str, host: str, port: int, timeout: float = 3.0) -> None:
        self.url = url
        self.host, self.port, self.timeout = host, port, timeout
        self.hostname = (socket.gethostname() or "-").split(".")[0][:255] or "-"
        self._sock: socket.socket | None = None

    def _connected(self) -> socket.socket:
        sock = self._sock
        if sock is not None:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:  # a collector sends nothing: readable means it closed (or reset) the connection
                try:
                    peeked = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except OSError:
                    peeked = b""
                if not peeked:
                    self.close()
                    sock = None
        if sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
        return sock

    def send(self, lines: Sequence[bytes]) -> None:
        sock = self._connected()
        data = b"".join(syslog_frame(ln.rstrip(b"\n"), self.hostname, os.getpid()) for ln in lines)
        try:
            sock.sendall(data)
        except OSError:
            self.close()
            raise

    def probe(self) -> None:
        self._connected()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


class HttpJsonLines:
    """POSTs batches of record lines to an HTTP endpoint."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: object | None = None

    def _http(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, trust_env=False)
        return self._client

    def send(self, lines: Sequence[bytes]) -> None:
        import httpx

        body = b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines)
        try:
            r = self._http().post(self.url, content=body, headers={"content-type": "application/x-ndjson"})
        except httpx.HTTPError as e:
            raise OSError(f"{type(e).__name__}: {e}") from None
        if not 200 <= r.status_code < 300:
            raise OSError(f"HTTP {r.status_code}")

    def probe(self) -> None:
        self.send([])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[attr-defined]
            self._client = None


def otlp_body(lines: Sequence[bytes]) -> bytes:
    """An OTLP ``ExportLogsServiceRequest`` (JSON encoding) holding one log record per line."""
    from datetime import datetime

    records = []
    for ln in lines:
        rec = json.loads(ln)
        try:
            ns = int(datetime.fromisoformat(str(rec.get("ts")).replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            ns = 0
        attrs = [
            {"key": "codeward.session_id", "value": {"stringValue": str(rec.get("sid"))}},
            {"key": "codeward.seq", "value": {"intValue": str(rec.get("seq"))}},
            {"key": "codeward.record_type", "value": {"stringValue": str(rec.get("type"))}},
        ]
        records.append({"timeUnixNano": str(ns), "severityNumber": 9, "severityText": "INFO",
                        "body": {"stringValue": ln.rstrip(b"\n").decode("ascii", "replace")}, "attributes": attrs})  # fmt: skip
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "codeward"}}]}
    scope = {"scope": {"name": "codeward.audit"}, "logRecords": records}
    return json.dumps({"resourceLogs": [{"resource": resource, "scopeLogs": [scope]}]}).encode()


class OtlpHttpJson(HttpJsonLines):
    """OTLP/HTTP logs, JSON encoding; an empty batch is an empty export (the probe)."""

    def send(self, lines: Sequence[bytes]) -> None:
        import httpx

        try:
            r = self._http().post(self.url, content=otlp_body(lines), headers={"content-type": "application/json"})
        except httpx.HTTPError as e:
            raise OSError(f"{type(e).__name__}: {e}") from None
        if not 200 <= r.status_code < 300:
            raise OSError(f"HTTP {r.status_code}")


def shown(url: str) -> str:
    """``url`` fit to print: a password or token in its user part is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def transport_for(url: str) -> Transport:
    """The transport for ``[audit] sink``; UsageError naming the key when the URL is not usable."""
    parts = urlsplit(url)
    if parts.scheme in ("syslog", "syslog+tcp"):
        if not parts.hostname or not parts.port:
            raise UsageError(f"[audit] sink = {shown(url)!r}: give syslog+tcp://HOST:PORT")
        return SyslogTcp(url, parts.hostname, parts.port)
    if parts.scheme in ("http", "https") and parts.hostname:
        return HttpJsonLines(url)
    if parts.scheme in ("otlp+http", "otlp+https") and parts.hostname:
        target = parts._replace(scheme=parts.scheme[5:], path=parts.path if parts.path not in ("", "/") else "/v1/logs")
        return OtlpHttpJson(target.geturl())
    raise UsageError(
        f"[audit] sink = {shown(url)!r}: expected syslog+tcp://HOST:PORT, an http(s):// URL or otlp+http(s)://HOST:PORT"
    )
