"""Finding session logs on disk: where they live, listing them, resolving an id or a prefix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeward.config.model import Config
from codeward.errors import UsageError


def logs_dir(config: Config, home: Path | None = None) -> Path:
    """``[audit] dir`` when set (a relative one is taken from ``$CODEWARD_HOME``, never from the
    directory a command happens to run in), else ``$CODEWARD_HOME/logs``."""
    if home is None:
        from codeward.home import codeward_home

        home = codeward_home()
    if config.audit.dir:
        d = Path(config.audit.dir).expanduser()
        return d if d.is_absolute() else home / d
    return home / "logs"


@dataclass(frozen=True)
class LogFile:
    path: Path
    session_id: str | None
    """The id its place under the logs directory claims (None for a file given by path)."""
    date: str
    """``YYYY-MM-DD`` from the directories (UTC day the session started)."""


def list_logs(root: Path) -> list[LogFile]:
    """Every ``YYYY/MM/DD/<session>.jsonl`` under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found: list[tuple[str, float, str, LogFile]] = []
    for path in root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*.jsonl"):
        if not path.is_file():
            continue
        y, m, d = path.parts[-4:-1]
        date = f"{y}-{m}-{d}"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        found.append((date, mtime, path.stem, LogFile(path, path.stem, date)))
    found.sort(key=lambda t: t[:3])
    return [t[3] for t in found]


def find_log(root: Path, ref: str) -> LogFile:
    """A log by session id, unique id prefix, or file path; UsageError saying what to do otherwise."""
    candidate = Path(ref).expanduser()
    if ("/" in ref or ref.endswith(".jsonl")) and candidate.is_file():
        return LogFile(candidate.absolute(), None, "")
    logs = list_logs(root)
    exact = [lf for lf in logs if lf.session_id == ref]
    if exact:
        return exact[-1]
    matches = [lf for lf in logs if lf.session_id and lf.session_id.startswith(ref)]
    if not matches:
        raise UsageError(f"no audit log matches '{ref}' under {root}; see codeward logs list")
    if len(matches) > 1:
        shown = ", ".join(lf.session_id or "" for lf in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise UsageError(f"'{ref}' matches {len(matches)} sessions ({shown}{more}); give more of the id")
    return matches[0]


def read_records(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any] | None]]:
    """(line number, exact line bytes without the newline, parsed record or None) for each line."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip(b"\n")
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            yield n, line, rec if isinstance(rec, dict) else None


def parse_since(text: str) -> str:
    """``--since`` as a record-timestamp prefix to compare with: a date or an ISO time (UTC unless an offset is given)."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.strptime(raw, "%Y-%m-%d").strftime("%Y-%m-%d")
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--since {text}: expected a date like 2025-01-31 or a time like 2025-01-31T14:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
