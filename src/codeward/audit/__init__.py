"""The tamper-evident audit log (DESIGN §7's events feed it; ``codeward logs`` reads it).

Modules: :mod:`~codeward.audit.records` (record format and hash chain, pure),
:mod:`~codeward.audit.scrub` (keeps keys and secrets out), :mod:`~codeward.audit.writer` (the
sink that appends and fsyncs), :mod:`~codeward.audit.verify` (checks a log),
:mod:`~codeward.audit.store` (where logs live, listing, ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeward.errors import UsageError

if TYPE_CHECKING:
    from codeward.audit.scrub import ScanFn
    from codeward.audit.writer import AuditSink
    from codeward.config.model import Config

__all__ = ["open_session_audit"]


def open_session_audit(
    config: Config, session_id: str, *, scan: ScanFn | None = None, extra: Path | None = None
) -> AuditSink | None:
    """The audit sink for one session, or None when ``[audit] enabled = false`` and no ``extra`` file.

    ``extra`` (``exec --audit-log FILE``) receives the same record lines as the session's log. The
    scrubber knows every key the process resolves and uses ``scan``, the project's secret scanner
    (the same rules the gate uses; the built-in rules when none is given).
    """
    from codeward.audit.scrub import Scrubber
    from codeward.audit.store import logs_dir
    from codeward.audit.writer import AuditSink
    from codeward.auth.keys import known_secrets

    if not config.audit.enabled and extra is None:
        return None
    if extra is not None:
        extra = extra.expanduser().absolute()
        if not extra.parent.is_dir():
            raise UsageError(f"--audit-log {extra}: the directory {extra.parent} does not exist")
        if extra.is_dir():
            raise UsageError(f"--audit-log {extra}: is a directory; give a file name")
    if scan is None:
        from codeward.privacy.scanner import load_scanner

        scan = load_scanner().scan
    scrubber = Scrubber(known_secrets, scan)
    return AuditSink(
        session_id,
        logs_dir=logs_dir(config) if config.audit.enabled else None,
        extra=extra,
        scrubber=scrubber,
    )
