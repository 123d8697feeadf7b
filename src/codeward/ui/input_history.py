"""Prompt history per project, stored redacted: a pasted key is replaced before the line reaches disk.

``$CODEWARD_HOME/history/<hash of the workspace root>.jsonl``, mode 0600 in a 0700 directory: one
``{"ts", "text"}`` line per prompt, after the first line ``{"workspace": root}`` that says which project
the file belongs to. ``[history] persistence = "none"`` keeps history in memory only. If the secret
scanner fails on a line, that line is not written (fail closed) and the session says so once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

MAX_LOADED = 1000


def history_path(home: Path, workspace_root: Path) -> Path:
    """Where the prompts typed in ``workspace_root`` are kept."""
    digest = hashlib.sha256(str(workspace_root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return home / "history" / f"{digest}.jsonl"


def read_history(path: Path, limit: int = MAX_LOADED) -> list[str]:
    """The stored prompts, oldest first; damaged lines are skipped (a crash can cut only the last one)."""
    try:
        raw = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError:
        return []
    out: list[str] = []
    for line in raw:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("text"), str):
            out.append(rec["text"])
    return out[-limit:]


def append_history(path: Path, text: str, workspace_root: Path) -> None:
    """Append one (already redacted) prompt; the file is created 0600 and kept 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        lines = []
        if st.st_size == 0:
            lines.append(json.dumps({"workspace": str(workspace_root)}, ensure_ascii=False))
        lines.append(json.dumps({"ts": round(time.time(), 3), "text": text}, ensure_ascii=False))
        os.write(fd, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)


def make_history(
    path: Path | None,
    workspace_root: Path,
    redact: Callable[[str], str],
    on_error: Callable[[str], None],
) -> object:
    """A prompt_toolkit ``History``: file-backed and redacted, or in memory only when ``path`` is None."""
    from prompt_toolkit.history import History, InMemoryHistory

    if path is None:
        return InMemoryHistory()
    stored: Path = path

    class RedactedFileHistory(History):
        """Loads the project's stored prompts; stores each new one after redaction."""

        def load_history_strings(self) -> Iterable[str]:
            return list(reversed(read_history(stored)))  # prompt_toolkit wants newest first

        def store_string(self, string: str) -> None:
            try:
                safe = redact(string)
            except Exception as e:  # the scanner failed: this line is not written anywhere
                on_error(f"prompt not saved to history: the secret scanner failed ({e})")
                return
            try:
                append_history(stored, safe, workspace_root)
            except OSError as e:
                on_error(f"prompt not saved to history: {stored}: {e.strerror or e}")

    return RedactedFileHistory()
