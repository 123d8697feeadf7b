"""Streaming records to the configured sink, with an on-disk queue so a sink that is down loses nothing.

The queue is the session logs themselves plus one cursor per session under ``<logs dir>/ship/``:
``<sid>.cursor`` holds the ``seq`` of the last record the sink accepted. A session's shipper

1. takes an exclusive ``flock`` on its own cursor for as long as it runs (so no other process ships
   the same records twice);
2. first delivers the backlog of earlier sessions whose cursor is behind their log and not locked
   (a sink that was down, a codeward that was killed), oldest first;
3. then sends its own records as they are written, from a background thread, in order; a failed
   send is retried with backoff, and records written meanwhile wait in memory behind it.

The cursor moves only after the sink accepted a batch, so records are never skipped; a record is
sent again only if the sink accepted it but codeward died before the cursor moved (every record
carries ``sid`` and ``seq`` for a receiver to drop such a repeat). When the session ends the
shipper waits a little for the sink; what is still undelivered stays queued for the next session
or ``codeward logs ship``. A cursor is deleted once its log is fully delivered and no process
writes to it any more (its lock is free).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections import deque
from pathlib import Path

from codeward.audit.sinks import Transport

CURSOR_DIR = "ship"
_WIDTH = 24
BATCH = 256


class Cursor:
    """One session's delivered position, overwritten in place (no fsync: a crash repeats, never skips)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def open(cls, d: Path, sid: str, *, block: bool) -> Cursor | None:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = d / f"{sid}.cursor"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(path, fd)

    def get(self) -> int:
        raw = os.pread(self.fd, _WIDTH, 0).strip()
        try:
            return int(raw)
        except ValueError:
            return -1

    def set(self, seq: int) -> None:
        os.pwrite(self.fd, f"{seq:<{_WIDTH - 1}}\n".encode(), 0)

    def close(self, *, done: bool = False) -> None:
        if done:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        os.close(self.fd)


def _log_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    lines = data.split(b"\n")
    lines.pop()  # the part after the last newline: b"" or a record cut off mid-write
    return lines


def deliver_backlog(logs_dir: Path, transport: Transport, *, skip: str | None = None) -> tuple[int, int]:
    """Send every queued record of other sessions; (records delivered, records still waiting)."""
    from codeward.audit.store import list_logs

    d = logs_dir / CURSOR_DIR
    if not d.is_dir():
        return 0, 0
    by_sid = {lf.session_id: lf.path for lf in list_logs(logs_dir)}
    sent = waiting = 0
    for cpath in sorted(d.glob("*.cursor"), key=lambda p: p.stat().st_mtime):
        sid = cpath.stem
        if sid == skip or sid not in by_sid:
            continue
        cur = Cursor.open(d, sid, block=False)
        if cur is None:
            continue  # a running session ships its own records
        done = False
        try:
            lines = _log_lines(by_sid[sid])
            pos = cur.get() + 1
            try:
                while pos < len(lines):
                    batch = lines[pos : pos + BATCH]
                    transport.send(batch)
                    pos += len(batch)
                    cur.set(pos - 1)
                    sent += len(batch)
            except OSError:
                waiting += len(lines) - pos
                raise
            done = True  # not running (its lock was free) and all sent: the log will not grow
        finally:
            cur.close(done=done)
    return sent, waiting


class Shipper:
    """Ships one session's records from a background thread; :meth:`offer` never blocks on the sink."""

    def __init__(self, transport: Transport, logs_dir: Path, session_id: str, *, drain_s: float = 5.0) -> None:
        self.transport = transport
        self.logs_dir = logs_dir
        self.session_id = session_id
        self.drain_s = drain_s
        self.error: str | None = None
        """The last delivery error (None once a send succeeds)."""
        self.delivered = 0
        self._pending: deque[tuple[int, bytes]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = 0.0
        self._sealed = False
        self._offered = False
        self._cursor = Cursor.open(logs_dir / CURSOR_DIR, session_id, block=True)
        assert self._cursor is not None
        self._cursor.set(-1)
        self._thread = threading.Thread(target=self._run, name="codeward-audit-ship", daemon=True)
        self._thread.start()

    def offer(self, seq: int, line: bytes) -> None:
        with self._cond:
            self._pending.append((seq, line.rstrip(b"\n")))
            self._offered = True
            if b'"type":"seal"' in line:
                self._sealed = True
            self._cond.notify()

    def close(self) -> None:
        """Wait up to ``drain_s`` for the sink to take what is pending (half a second when it is already
        failing); the rest stays queued on disk."""
        with self._cond:
            self._closing = True
            # a sink already failing gets one more try, not the full wait: the records are on disk
            wait = min(self.drain_s, 0.5) if self.error else self.drain_s
            self._deadline = time.monotonic() + wait
            self._cond.notify()
        self._thread.join(wait + 1)
        with self._cond:
            done = (self._sealed and not self._pending) or not self._offered
        if self._cursor is not None:
            self._cursor.close(done=done)
            self._cursor = None
        self.transport.close()

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            deliver_backlog(self.logs_dir, self.transport, skip=self.session_id)
        backoff = 0.1
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                batch = list(self._pending)[:BATCH]
            try:
                self.transport.send([line for _, line in batch])
            except OSError as e:
                self.error = str(e) or type(e).__name__
                with self._cond:
                    if self._closing and time.monotonic() >= self._deadline:
                        return
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            self.error = None
            with self._cond:
                for _ in batch:
                    self._pending.popleft()
                self.delivered += len(batch)
            if self._cursor is not None:
                self._cursor.set(batch[-1][0])
