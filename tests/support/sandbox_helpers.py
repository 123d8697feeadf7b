"""Helpers for the sandbox tests: a workspace to attack, host-side listeners and sentinels, checks.

They live here rather than in ``tests/sandbox/conftest.py`` so that test modules import them by
package path: ``from conftest import ...`` gets whichever conftest module Python loaded first.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env)


@dataclass
class Project:
    """A repository with every kind of path the sandbox must guard, and the markers planted in them."""

    root: Path
    home: Path
    cw_home: Path
    markers: dict[str, str] = field(default_factory=dict)

    def marker(self, name: str) -> str:
        return self.markers[name]

    def spec(self, cwd: Path | None = None, **overrides: Any) -> Any:
        from codeward.project import open_project

        where = cwd or self.root
        spec = open_project(where).sandbox_spec()
        return replace(spec, timeout_s=overrides.pop("timeout_s", 30.0), **overrides)

    def run(self, sandbox: Any, command: str | list[str], cwd: Path | None = None, **overrides: Any) -> Any:
        argv = ["bash", "-c", command] if isinstance(command, str) else command
        return sandbox.run(argv, self.spec(cwd, **overrides))


class Listener:
    """A host socket that records every connection and byte it receives."""

    def __init__(self, kind: str, path: str | None = None) -> None:
        self.kind = kind
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        if kind == "tcp":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            self.port = s.getsockname()[1]
        elif kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            assert path is not None
            s.bind(path if kind == "unix" else "\0" + path)
            s.listen(8)
        self.address = path
        self.sock = s
        s.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                if self.kind == "udp":
                    data, _ = self.sock.recvfrom(65536)
                    self.received += data
                    continue
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    self.received += data
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    @property
    def touched(self) -> bool:
        return self.connections > 0 or bool(self.received)


@dataclass
class Sentinel:
    """A host process standing in for the agent: holds a fake key in its environment."""

    proc: subprocess.Popen[bytes]
    key: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            return False
        state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("T", "t", "Z", "X")

    def tracer(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
        return -1


def content(path: Path) -> bytes | None:
    """A file's bytes, or None when it is gone: escape checks compare this, so a file moved away by
    the command fails the assertion (and counts for the no-sandbox control) instead of raising."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def process_running(marker: str) -> bool:
    """True while any process on the host has ``marker`` in its command line."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd and str(os.getpid()) != d.name:
            return True
    return False


CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def one_cert() -> bytes:
    """One public certificate, PEM, copied from the system's CA bundle (a real one, not made up)."""
    import pytest

    if not CA_BUNDLE.is_file():
        pytest.skip("no system CA bundle to copy certificates from")
    data = CA_BUNDLE.read_bytes()
    end = data.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    return data[data.index(b"-----BEGIN CERTIFICATE-----") : end]


def without_ignored_files(project: Project) -> None:
    """Remove the fixture repository's ignored files: under Landlock, moving hidden paths out and
    back around each command leaves their directories racy, so the directory index's watch is never
    trusted while the workspace holds one (most repositories hold none)."""
    import shutil

    for rel in (".env", "certs", "secrets", "data", "private"):
        p = project.root / rel
        p.unlink() if p.is_file() else shutil.rmtree(p)
