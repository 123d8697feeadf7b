"""Cost of the audit log and of ``codeward doctor``.

usage: python bench/audit.py [--records N] [--skip-doctor]

1. Writing: per-record cost of ``AuditSink.emit`` as a session pays it (scrub with the real
   scanner, hash-chain, one write, one fsync), and the same without fsync and without the
   scanner, to show where the time goes; then keyed (sealing set up: one HMAC and one key step
   per record) and keyed with a shipper streaming to a loopback TCP syslog receiver.
2. Session start and end with sealing: claiming an epoch (fsync of the state) and the two index
   entries (fsync each).
3. Verifying: records per second and MB/s of ``verify_file`` on one long log, unkeyed and with the
   verification key (every MAC checked).
4. Doctor: wall time of ``codeward doctor --json`` on a git repository made of a slice of the
   interpreter's standard library (every tracked blob is read from git and scanned).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

SID = "bench000-0000-4000-8000-000000000000"


def event(i: int) -> dict[str, object]:
    """A realistic mix: one request, one decision, one command, one file change per step."""
    k = i % 4
    if k == 0:
        return {"type": "egress", "host": "api.example.com", "bytes": 48_213, "sha256": "ab" * 32,
                "files": ["src/app/models.py", "src/app/views.py"], "redactions": {"generic-api-key": 1}}  # fmt: skip
    if k == 1:
        return {"type": "decision", "action": "command", "target": "pytest -q tests/test_models.py -k 'not slow'",
                "decision": "allow", "decided_by": "mode:full-auto", "reason": "full-auto", "rule": None,
                "source": None, "outcome": "allowed"}  # fmt: skip
    if k == 2:
        return {"type": "command.executed", "argv": ["bash", "-c", "pytest -q tests/test_models.py -k 'not slow'"],
                "cwd": ".", "tier": "bwrap", "exit_code": 0, "duration_ms": 812.4, "timed_out": False}  # fmt: skip
    return {"type": "file.changed", "path": "src/app/models.py", "kind": "update",
            "sha256_before": "cd" * 32, "sha256_after": "ef" * 32, "old_path": None}  # fmt: skip


def time_sink(n: int, *, fsync: bool, scan: bool, keyed: bool = False, sink_url: str | None = None) -> list[float]:
    from codeward.audit import open_session_audit
    from codeward.audit.keys import setup_keys
    from codeward.audit.scrub import Scrubber
    from codeward.config.model import AuditConfig, Config

    with tempfile.TemporaryDirectory() as d:
        os.environ["CODEWARD_HOME"] = d
        if keyed:
            setup_keys(Path(d))
        sink = open_session_audit(Config(audit=AuditConfig(sink=sink_url)), SID)
        assert sink is not None
        if not scan:
            sink.scrubber = Scrubber(lambda: ())
        sink.write_event({"type": "session.started", "provider": "p", "model": "m"})
        times = []
        patch = mock.patch("os.fsync") if not fsync else mock.patch("os.getpid")  # getpid: a no-op stand-in
        with patch:
            for i in range(n):
                t = time.perf_counter()
                sink.write_event(event(i))
                times.append(time.perf_counter() - t)
        sink.close()
    return times


class _Receiver:
    """A loopback TCP server that reads and drops everything (a collector that keeps up)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.bytes = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1 << 16):
                    self.bytes += len(data)


def time_session_overhead(n: int = 50) -> list[float]:
    """Open (claim an epoch + index entry) and seal (index close) of an otherwise empty keyed session."""
    from codeward.audit.keys import setup_keys
    from codeward.audit.writer import AuditSink

    times = []
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        setup_keys(home)
        for i in range(n):
            t = time.perf_counter()
            sink = AuditSink(f"{SID[:-4]}{i:04d}", logs_dir=home / "logs", seal_home=home)
            sink.write_event({"type": "session.started", "provider": "p"})
            sink.write_event({"type": "session.ended", "status": "completed"})
            sink.close()
            times.append(time.perf_counter() - t)
    return times


def describe(label: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(len(ms) * 0.95)]
    print(f"  {label:<34} median {statistics.median(ms):6.3f} ms   p95 {p95:6.3f} ms   ({len(ms) / sum(times):,.0f}/s)")


def bench_verify(n: int, *, keyed: bool = False) -> None:
    from codeward.audit.keys import RecordKeys
    from codeward.audit.records import Chain
    from codeward.audit.verify import EpochKeys, verify_file

    seed = os.urandom(32)
    keys = EpochKeys(seed) if keyed else None
    with tempfile.TemporaryDirectory() as d:
        chain = Chain(SID, RecordKeys(seed, SID) if keyed else None)
        path = Path(d) / f"{SID}.jsonl"
        with path.open("wb") as f:
            start = {"provider": "p", "epoch": 0, "key_id": keys.key_id} if keys else {"provider": "p"}
            f.write(chain.line("session.start", start, "2025-01-01T00:00:00.000Z"))
            for i in range(n):
                ev = {k: v for k, v in event(i).items() if k != "type"}
                f.write(chain.line("command", ev, "2025-01-01T00:00:01.000Z"))
            f.write(chain.seal("2025-01-01T00:00:02.000Z"))
        size = path.stat().st_size
        best = min(_timed(lambda: verify_file(path, SID, keys)) for _ in range(5))
        res = verify_file(path, SID, keys)
        assert res.ok and res.macs_checked is keyed, res.problem
        print(f"  verify{' with key' if keyed else ''} {n + 2:,} records ({size / 1e6:.1f} MB): {best * 1000:.0f} ms, "
              f"{(n + 2) / best:,.0f} records/s, {size / 1e6 / best:.0f} MB/s")  # fmt: skip


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_doctor() -> None:
    src = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    cw = shutil.which("codeward") or str(Path(sys.executable).parent / "codeward")
    with tempfile.TemporaryDirectory() as d:
        repo = Path(d) / "repo"
        for sub in ("json", "email", "http", "urllib", "logging", "asyncio", "unittest", "xml", "importlib"):
            if (src / sub).is_dir():
                shutil.copytree(src / sub, repo / sub, ignore=shutil.ignore_patterns("__pycache__"))
        env = {**os.environ, "CODEWARD_HOME": str(Path(d) / "home"), "HOME": d,
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # fmt: skip
        for args in (
            ["init", "-q"],
            ["add", "-A"],
            ["-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "x"],
        ):
            subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
        files = len(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True).stdout.splitlines())
        size = sum(p.stat().st_size for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
        runs = [_timed(lambda: subprocess.run([cw, "doctor", "--json"], cwd=repo, env=env, capture_output=True))
                for _ in range(3)]  # fmt: skip
        print(f"  doctor on {files} tracked files ({size / 1e6:.1f} MB): best {min(runs):.2f} s, "
              f"median {statistics.median(runs):.2f} s (whole process)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--skip-doctor", action="store_true")
    a = ap.parse_args()
    print("audit write, per record:")
    describe("emit (scanner + chain + fsync)", time_sink(a.records, fsync=True, scan=True))
    describe("emit without fsync", time_sink(a.records, fsync=False, scan=True))
    describe("emit without fsync or scanner", time_sink(a.records, fsync=False, scan=False))
    describe("keyed emit without fsync", time_sink(a.records, fsync=False, scan=True, keyed=True))
    rx = _Receiver()
    describe("keyed + syslog sink, no fsync", time_sink(a.records, fsync=False, scan=True, keyed=True,
                                                         sink_url=f"syslog+tcp://127.0.0.1:{rx.port}"))  # fmt: skip
    print("keyed session start + end (epoch claim, index open and close, seal; all fsynced):")
    describe("empty keyed session", time_session_overhead())
    print("audit verify:")
    bench_verify(50_000)
    bench_verify(50_000, keyed=True)
    if not a.skip_doctor:
        print("doctor:")
        bench_doctor()


if __name__ == "__main__":
    main()
