"""The audit sink: turns bus events into chained records and appends them to the session's log.

Each record reaches the kernel with one ``write`` before ``emit`` returns, so a crash of codeward
loses at most the record being written; the seal is ``fsync``ed, so a sealed log is on disk. (An
``fsync`` per record cost ~4 ms each, about half of every tool round trip, for protection only
against the machine itself going down mid-session; a log cut short that way fails ``verify`` as
unsealed, which is the honest answer.) Files are created on the first record (a run refused before its
session started leaves no empty log behind), with 0600 permissions in 0700 directories; the main
log is opened with ``O_EXCL`` so two sessions can never interleave in one file.

Crash path (decided here, see :meth:`AuditSink.close`): when the sink is closed without having seen
``session.ended``, it writes a ``session.end`` record with status ``incomplete`` and then the seal,
so an interrupted or failed run still verifies and shows as incomplete in ``logs list``. A process
killed outright (SIGKILL, power loss) writes no seal, and ``logs verify`` reports its log as
unsealed.

When a record cannot be written (disk full, directory removed), the sink raises
:class:`AuditWriteError` for that event and for every later one. Requests are recorded (the
``egress`` event) before they are sent, so from then on nothing more leaves the machine unrecorded:
the agent's next request fails with the error instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeward.audit.records import Chain, record_for_event, utc_timestamp
from codeward.audit.scrub import Scrubber
from codeward.errors import CodewardError
from codeward.events import Event


class AuditWriteError(CodewardError):
    """The audit log could not be written; the session must not go on unrecorded."""


def make_private_dirs(base: Path, *parts: str) -> Path:
    """Create ``base`` and each of ``parts`` below it with mode 0700 (each level, not just the last)."""
    missing: list[Path] = []
    p = base
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
    d = base
    for part in parts:
        d = d / part
        d.mkdir(mode=0o700, exist_ok=True)
    return d


def session_log_path(logs_dir: Path, session_id: str, ts: str) -> Path:
    """``logs_dir/YYYY/MM/DD/<session>.jsonl`` for a record timestamp ``ts`` (UTC)."""
    return logs_dir / ts[0:4] / ts[5:7] / ts[8:10] / f"{session_id}.jsonl"


class _Out:
    """One open log file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def write(self, data: bytes, *, sync: bool = False) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        if sync:
            os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class AuditSink:
    """Event-bus sink for one session. ``emit`` records an event; ``close`` seals the log."""

    def __init__(
        self,
        session_id: str,
        *,
        logs_dir: Path | None,
        extra: Path | None = None,
        scrubber: Scrubber | None = None,
        clock: Callable[[], str] = utc_timestamp,
    ) -> None:
        self.session_id = session_id
        self.logs_dir = logs_dir
        self.extra = extra
        self.scrubber = scrubber or Scrubber(lambda: ())
        self.clock = clock
        self.chain = Chain(session_id)
        self.path: Path | None = None
        """The main log, once it exists."""
        self._outs: list[_Out] | None = None
        self._failed: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    # -- the Sink protocol --------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """The bus's entry: the log records the event's wire form."""
        self.write_event(event.to_json())

    def write_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._failed is not None:
                raise AuditWriteError(self._failed)
            if self._closed or self.chain.sealed:
                return
            mapped = record_for_event(event)
            if mapped is None:
                return
            kind, fields = mapped
            try:
                if self._outs is None:
                    self._open(kind, fields)
                else:
                    self._write(kind, fields)
                if kind == "session.end":
                    self._seal()
            except OSError as e:
                self._failed = f"audit log not written ({e.strerror or e}); stopping so nothing goes unrecorded"
                raise AuditWriteError(self._failed) from None

    def close(self) -> None:
        """Seal the log if the session did not end normally, and close the files. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._outs is not None and not self.chain.sealed and self._failed is None:
                    self._write("session.end", {"status": "incomplete", "reason": "closed before the session ended"})
                    self._seal()
            except OSError:
                pass  # nothing more can be done; verify will report the log as unsealed
            finally:
                for out in self._outs or ():
                    out.close()
                self._outs = []

    # -- internals -------------------------------------------------------------------------------

    def _open(self, kind: str, fields: dict[str, Any]) -> None:
        ts = self.clock()
        outs: list[_Out] = []
        try:
            if self.logs_dir is not None:
                path = session_log_path(self.logs_dir, self.session_id, ts)
                make_private_dirs(self.logs_dir, *path.relative_to(self.logs_dir).parts[:-1])
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
                os.fchmod(fd, 0o600)
                outs.append(_Out(path, fd))
                self.path = path
            if self.extra is not None:
                fd = os.open(self.extra, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
                os.fchmod(fd, 0o600)
                outs.append(_Out(self.extra, fd))
        except OSError:
            for out in outs:
                out.close()
            raise
        self._outs = outs
        if kind != "session.start":
            self._write("session.start", {"session_id": self.session_id}, ts)
        self._write(kind, fields, ts)

    def _write(self, kind: str, fields: dict[str, Any], ts: str | None = None) -> None:
        clean = self.scrubber.fields(fields)
        line = self.chain.line(kind, clean, ts or self.clock())
        for out in self._outs or ():
            out.write(line)

    def _seal(self) -> None:
        line = self.chain.seal(self.clock())
        for out in self._outs or ():
            out.write(line, sync=True)
