"""Real collectors for the shipping tests: rsyslog (Debian package) on a loopback port with a temp
config, and a JSON-lines HTTP endpoint on loopback that can be told to refuse for a while."""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rsyslog:
    """One rsyslogd writing every message it receives, raw, to ``out``; stoppable and restartable."""

    def __init__(self, base: Path) -> None:
        if RSYSLOGD is None:
            pytest.fail("rsyslogd is not installed: apt-get install -y rsyslog (scripts/test does this)")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.out = base / "received.log"
        self.conf = base / "rsyslog.conf"
        self.conf.write_text(
            f'global(workDirectory="{base}" maxMessageSize="256k")\n'
            'module(load="imtcp")\n'
            f'input(type="imtcp" port="{self.port}" address="127.0.0.1")\n'
            'template(name="raw" type="string" string="%rawmsg%\\n")\n'
            f'*.* action(type="omfile" file="{self.out}" template="raw")\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"syslog+tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(RSYSLOGD), "-n", "-f", str(self.conf), "-i", str(self.base / "pid")],
            stdout=subprocess.DEVNULL,
            stderr=(self.base / "rsyslogd.err").open("ab"),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise AssertionError(f"rsyslogd did not listen: {(self.base / 'rsyslogd.err').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            self.proc = None

    def messages(self) -> list[str]:
        try:
            return [ln for ln in self.out.read_text().splitlines() if ln]
        except FileNotFoundError:
            return []

    def records(self) -> list[dict[str, Any]]:
        """The audit records received (the JSON after the RFC 5424 header)."""
        return [json.loads(m[m.index("{") :]) for m in self.messages()]

    def wait_for(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.records()
            if len(recs) >= count:
                return recs
            time.sleep(0.1)
        return self.records()


class HttpCollector:
    """A JSON-lines endpoint: appends every line of each 2xx-answered POST; refuses while ``down``."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.otlp: list[dict[str, Any]] = []
        self.down = False
        self.refused = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if outer.down:
                    outer.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.path.endswith("/v1/logs"):  # OTLP: take the record lines back out of the bodies
                    doc = json.loads(body)
                    outer.otlp.append(doc)
                    for rl in doc["resourceLogs"]:
                        for sl in rl["scopeLogs"]:
                            outer.lines.extend(json.loads(r["body"]["stringValue"]) for r in sl["logRecords"])
                else:
                    outer.lines.extend(json.loads(ln) for ln in body.splitlines() if ln)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/audit"
        self.otlp_url = f"otlp+http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
