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

Sealing (:mod:`codeward.audit.keys`): when ``seal_home`` holds a sealing state, the session claims
an epoch as its log is created; its records carry MACs from the per-record key chain, and the index
(:mod:`codeward.audit.index`) gets an ``open`` entry then and a ``close`` entry at the seal. The
epoch key itself is not kept: only the record key (which moves forward with every record) and the
session's index key, dropped once the index's ``close`` entry is written.

The CI copy (``extra``) is given as an already-open descriptor (see :func:`open_extra`): it was
opened once, at start, without following links, so replacing the path later changes nothing that
codeward writes; :meth:`AuditSink.close` reports when the path no longer names that file.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.audit.keys import Claim, RecordKeys, SealStateError, claim_epoch, derive
from codeward.audit.records import Chain, record_for_event, sha256_hex, utc_timestamp
from codeward.audit.scrub import Scrubber
from codeward.errors import CodewardError
from codeward.events import Event

if TYPE_CHECKING:
    from codeward.audit.ship import Shipper


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
        extra_fd: int | None = None,
        scrubber: Scrubber | None = None,
        clock: Callable[[], str] = utc_timestamp,
        seal_home: Path | None = None,
        shipper: Shipper | None = None,
    ) -> None:
        self.session_id = session_id
        self.logs_dir = logs_dir
        self.extra = extra
        self.extra_fd = extra_fd
        self.seal_home = seal_home
        self.shipper = shipper
        self.warnings: list[str] = []
        """What the caller should tell the user at the end (for example a replaced CI copy)."""
        self._sealed_as: tuple[int, str] | None = None
        """(epoch, key id) of a keyed session."""
        self._index_key: bytes | None = None
        """The session's index key, derived from its epoch key (which is not kept)."""
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
            except SealStateError as e:
                self._failed = f"audit log not sealed: {e.message}"
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
                self._check_extra()
                for out in self._outs or ():
                    out.close()
                if self._outs is None and self.extra_fd is not None:
                    os.close(self.extra_fd)
                self._outs = []
                self._index_key = None
                if self.shipper is not None:
                    self.shipper.close()

    # -- internals -------------------------------------------------------------------------------

    def _open(self, kind: str, fields: dict[str, Any]) -> None:
        ts = self.clock()
        outs: list[_Out] = []
        start: dict[str, Any] = fields if kind == "session.start" else {"session_id": self.session_id}
        try:
            if self.logs_dir is not None:
                path = session_log_path(self.logs_dir, self.session_id, ts)
                make_private_dirs(self.logs_dir, *path.relative_to(self.logs_dir).parts[:-1])
                claim = claim_epoch(self.seal_home) if self.seal_home is not None else None
                fd = os.open(
                    path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
                )
                os.fchmod(fd, 0o600)
                outs.append(_Out(path, fd))
                self.path = path
                if claim is not None:
                    self._take(claim)
                    start = {**start, "epoch": claim.epoch, "key_id": claim.key_id}
                    claim = None  # only the derived keys stay, and they move forward
                self._index("open", {"log": str(path.relative_to(self.logs_dir))}, ts)
            if self.extra_fd is not None:
                outs.append(_Out(self.extra or Path("?"), self.extra_fd))
                self.extra_fd = None
            elif self.extra is not None:
                outs.append(_Out(self.extra, open_extra(self.extra)))
        except OSError:
            for out in outs:
                out.close()
            raise
        self._outs = outs
        self._write("session.start", start, ts)
        if kind != "session.start":
            self._write(kind, fields, ts)

    def _take(self, claim: Claim) -> None:
        """Derive the record chain and the index key from the epoch key; the epoch key is not kept."""
        self.chain = Chain(self.session_id, RecordKeys(claim.key, self.session_id))
        self._index_key = derive(claim.key, "index", self.session_id)
        self._sealed_as = (claim.epoch, claim.key_id)

    def _index(self, kind: str, fields: dict[str, Any], ts: str) -> None:
        from codeward.audit.index import append_entry

        if self.logs_dir is None:
            return
        base: dict[str, Any] = {"sid": self.session_id, "epoch": None}
        if self._sealed_as is not None:
            base["epoch"], base["key_id"] = self._sealed_as
        append_entry(self.logs_dir, kind, {**base, **fields}, ts, self._index_key)

    def _check_extra(self) -> None:
        """Warn when the CI copy's path no longer names the file codeward wrote (it was replaced)."""
        if self.extra is None or not self._outs:
            return
        out = next((o for o in self._outs if o.path == self.extra), None)
        if out is None:
            return
        try:
            mine, there = os.fstat(out.fd), os.lstat(self.extra)
            same = (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)
        except OSError:
            same = False
        if not same:
            self.warnings.append(
                f"--audit-log {self.extra} was replaced or removed during the run; the file codeward wrote "
                "is no longer at that path, so do not trust what is there (verify it with the index)"
            )

    def _write(self, kind: str, fields: dict[str, Any], ts: str | None = None) -> None:
        clean = self.scrubber.fields(fields)
        line = self.chain.line(kind, clean, ts or self.clock())
        for out in self._outs or ():
            out.write(line)
        if self.shipper is not None:
            self.shipper.offer(self.chain.seq - 1, line)

    def _seal(self) -> None:
        ts = self.clock()
        line = self.chain.seal(ts)
        for out in self._outs or ():
            out.write(line, sync=True)
        if self.shipper is not None:
            self.shipper.offer(self.chain.seq - 1, line)
        self._index("close", {"records": self.chain.seq - 1, "last": sha256_hex(line.rstrip(b"\n"))}, ts)
        self._index_key = None  # nothing more to sign for this session: forget the key


def open_extra(path: Path) -> int:
    """Open the CI copy for writing without following a link at its last component (0600, truncated).

    The parent directory is opened first and the file relative to it, so the descriptor names the
    file that was there at start whatever later happens to the path.
    """
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = os.open(
            path.name,
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
            0o600,
            dir_fd=dfd,
        )
    finally:
        os.close(dfd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        raise OSError(22, "not a regular file with one name (a device, a fifo or a hard link)")
    os.ftruncate(fd, 0)
    os.fchmod(fd, 0o600)
    return fd
