"""The tamper-evident audit log (DESIGN §7's events feed it; ``codeward logs`` reads it).

Modules: :mod:`~codeward.audit.records` (record format and hash chain, pure),
:mod:`~codeward.audit.scrub` (keeps keys and secrets out), :mod:`~codeward.audit.writer` (the
sink that appends and fsyncs), :mod:`~codeward.audit.verify` (checks a log),
:mod:`~codeward.audit.store` (where logs live, listing, ids), :mod:`~codeward.audit.keys`
(forward-secure sealing keys), :mod:`~codeward.audit.index` (the index of sessions),
:mod:`~codeward.audit.verify_all` (logs, index and sealing state together),
:mod:`~codeward.audit.sinks` and :mod:`~codeward.audit.ship` (streaming to a collector, with an
on-disk queue), :mod:`~codeward.audit.timeline` and :mod:`~codeward.audit.ocsf` (for people and
SIEMs).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeward.errors import UsageError

if TYPE_CHECKING:
    from codeward.audit.scrub import ScanFn
    from codeward.audit.ship import Shipper
    from codeward.audit.writer import AuditSink
    from codeward.config.model import Config

__all__ = ["open_ci_copy", "open_session_audit"]


def open_ci_copy(path: Path, off_limits: list[Path]) -> tuple[Path, int]:
    """Open ``exec --audit-log FILE`` once, at start: (absolute path, descriptor), or UsageError.

    Refused when FILE lies inside any of ``off_limits`` (the workspace and the sandbox's writable
    roots: a command could replace it there), when its directory does not exist, and when FILE is a
    link, a directory or anything but a regular file with one name. The last component is opened
    with ``O_NOFOLLOW``; the descriptor is what codeward writes to for the whole run.
    """
    import os

    from codeward.audit.writer import open_extra

    given = path
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise UsageError(f"--audit-log {given}: the directory {path.parent} does not exist; create it first")
    real_parent = path.parent.resolve()
    refuse_inside(given, real_parent, off_limits)
    if os.path.islink(path):
        raise UsageError(f"--audit-log {given}: is a symbolic link; codeward never writes through a link")
    if path.is_dir():
        raise UsageError(f"--audit-log {given}: is a directory; give a file name")
    try:
        return real_parent / path.name, open_extra(real_parent / path.name)
    except OSError as e:
        raise UsageError(f"--audit-log {given}: cannot open it for writing ({e.strerror})") from None


def refuse_inside(given: Path, real_parent: Path, off_limits: list[Path]) -> None:
    """UsageError when ``real_parent`` is one of ``off_limits`` or below one (where commands can write)."""
    for root in off_limits:
        r = root.expanduser().resolve()
        if real_parent == r or r in real_parent.parents:
            raise UsageError(
                f"--audit-log {given}: inside {r}, where the model's commands can write; "
                "put the audit copy outside the workspace (for example $RUNNER_TEMP/audit.jsonl)"
            )


def open_session_audit(
    config: Config,
    session_id: str,
    *,
    scan: ScanFn | None = None,
    extra: Path | None = None,
    extra_fd: int | None = None,
) -> AuditSink | None:
    """The audit sink for one session, or None when ``[audit] enabled = false`` and no ``extra`` file.

    ``extra`` (``exec --audit-log FILE``, opened by :func:`open_ci_copy` as ``extra_fd``) receives
    the same record lines as the session's log. The scrubber knows every key the process resolves
    and uses ``scan``, the project's secret scanner (the same rules the gate uses; the built-in rules
    when none is given). Records are sealed when ``codeward logs setup-keys`` set
    up a sealing state in the codeward home.
    """
    from codeward.audit.scrub import Scrubber
    from codeward.audit.store import logs_dir
    from codeward.audit.writer import AuditSink
    from codeward.auth.keys import known_secrets
    from codeward.home import codeward_home

    if not config.audit.enabled and extra is None:
        return None
    if extra is not None and extra_fd is None:
        extra, extra_fd = open_ci_copy(extra, [])
    if extra is not None:
        roots = [Path(r) for r in config.sandbox.writable_roots]
        try:
            refuse_inside(extra, extra.parent.resolve(), roots)
        except UsageError:
            if extra_fd is not None:
                import os

                os.close(extra_fd)
            raise
    if scan is None:
        from codeward.privacy.scanner import load_scanner

        scan = load_scanner().scan
    scrubber = Scrubber(known_secrets, scan)
    root = logs_dir(config) if config.audit.enabled else None
    if root is not None:
        from codeward.audit.keys import read_state

        read_state(codeward_home())  # a broken sealing state stops the run now, not at the first record
    return AuditSink(
        session_id,
        logs_dir=root,
        extra=extra,
        extra_fd=extra_fd,
        scrubber=scrubber,
        seal_home=codeward_home() if config.audit.enabled else None,
        shipper=_shipper(config, root, session_id),
    )


def _shipper(config: Config, root: Path | None, session_id: str) -> Shipper | None:
    """The sink's shipper when ``[audit] sink`` is set; with ``require_sink`` the sink must answer now."""
    from codeward.errors import CodewardError

    url = config.audit.sink
    if not url:
        if config.audit.require_sink:
            raise UsageError(
                '[audit] require_sink = true but no [audit] sink is set; set sink = "syslog+tcp://HOST:PORT"'
            )
        return None
    if root is None:
        raise UsageError("[audit] sink needs the local log (the on-disk queue): remove enabled = false from [audit]")
    from codeward.audit.ship import Shipper
    from codeward.audit.sinks import shown, transport_for

    transport = transport_for(url)
    if config.audit.require_sink:
        try:
            transport.probe()
        except OSError as e:
            raise CodewardError(
                f"[audit] require_sink = true, but the audit sink {shown(url)} cannot be reached ({e.strerror or e}); "
                "start it, or set require_sink = false to queue records on disk until it is back",
                exit_code=2,
            ) from None
    from codeward.audit.writer import make_private_dirs

    make_private_dirs(root)
    return Shipper(transport, root, session_id)
