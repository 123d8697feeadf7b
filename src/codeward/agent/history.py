"""Saved sessions, for ``resume``: only redacted content ever reaches the disk.

``$CODEWARD_HOME/sessions/YYYY/MM/DD/<session-id>.jsonl``: a ``meta`` line, then one line per
conversation item, every text field passed through the gate's redaction first. The placeholder map
is never written, so a resumed session cannot turn an old placeholder back into a secret (the patch
tool refuses such placeholders). ``[history] persistence = "none"`` writes nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeward.errors import CodewardError
from codeward.home import ensure_private_dir
from codeward.providers.types import AssistantTurn, Item, Message, ToolCall, ToolResult

Redact = Callable[[str], str]


def sessions_dir(home: Path) -> Path:
    return home / "sessions"


def item_to_record(item: Item, redact: Redact) -> dict[str, Any]:
    if isinstance(item, Message):
        return {"type": "message", "role": item.role, "text": redact(item.text), "files": list(item.files)}
    if isinstance(item, AssistantTurn):
        return {
            "type": "assistant",
            "text": redact(item.text),
            "reasoning": redact(item.reasoning),
            "tool_calls": [
                {"call_id": c.call_id, "name": c.name, "arguments": redact(c.arguments)} for c in item.tool_calls
            ],
        }
    return {
        "type": "tool_result",
        "call_id": item.call_id,
        "name": item.name,
        "output": redact(item.output),
        "files": list(item.files),
    }


def record_to_item(rec: dict[str, Any]) -> Item:
    kind = rec.get("type")
    if kind == "message":
        return Message(rec["role"], rec["text"], tuple(rec.get("files", ())))
    if kind == "assistant":
        calls = tuple(ToolCall(c["call_id"], c["name"], c["arguments"]) for c in rec.get("tool_calls", ()))
        return AssistantTurn(rec.get("text", ""), calls, rec.get("reasoning", ""))
    if kind == "tool_result":
        return ToolResult(rec["call_id"], rec["name"], rec["output"], tuple(rec.get("files", ())))
    raise ValueError(f"unknown item type {kind!r}")


class SessionWriter:
    """Appends items as they happen, so a crash keeps everything up to the last completed item."""

    def __init__(
        self, home: Path, session_id: str, meta: dict[str, Any], redact: Redact, *, path: Path | None = None
    ) -> None:
        if path is None:
            directory = ensure_private_dir(sessions_dir(home) / time.strftime("%Y/%m/%d"))
            path = directory / f"{session_id}.jsonl"
        self.path = path
        self._redact = redact
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._f = os.fdopen(fd, "a", encoding="utf-8")
        if self._f.tell() == 0:
            self._write({"type": "meta", "session_id": session_id, "created": time.time(), **meta})
        self.saved = 0
        self.generation = 0

    def _write(self, rec: dict[str, Any]) -> None:
        self._f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._f.flush()

    def save(self, items: list[Item], generation: int = 0) -> None:
        """Write the items not yet written (items only ever grow within a context).

        ``generation`` changes when the history was replaced (compacted): the new one is written
        whole after a ``cleared`` marker, so a resumed session starts from the compacted history.
        """
        if generation != self.generation:
            self._write({"type": "cleared"})
            self.saved = 0
            self.generation = generation
        for item in items[self.saved :]:
            self._write(item_to_record(item, self._redact))
        self.saved = len(items)

    def mark_cleared(self) -> None:
        """The user started a new task in the same session (``/new``)."""
        self._write({"type": "cleared"})
        self.saved = 0

    def close(self) -> None:
        self._f.close()


@dataclass(frozen=True)
class SavedSession:
    path: Path
    session_id: str
    created: float
    cwd: str
    items: tuple[Item, ...]
    meta: dict[str, Any]

    @property
    def first_prompt(self) -> str:
        for item in self.items:
            if isinstance(item, Message) and item.role == "user":
                return item.text.strip().splitlines()[0][:80] if item.text.strip() else ""
        return ""


def list_sessions(home: Path) -> list[Path]:
    """Saved session files, newest first."""
    root = sessions_dir(home)
    if not root.is_dir():
        return []
    return sorted(root.glob("*/*/*/*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)


def load_session(path: Path) -> SavedSession:
    meta: dict[str, Any] = {}
    items: list[Item] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CodewardError(f"{path}: cannot read saved session ({e.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if rec.get("type") == "meta":
                meta = rec
            elif rec.get("type") == "cleared":
                items = []
            else:
                items.append(record_to_item(rec))
        except (ValueError, KeyError, TypeError) as e:
            if n == len(lines):
                break  # a crash mid-write cuts only the last line: keep the rest
            raise CodewardError(f"{path}:{n}: damaged saved session ({e})") from None
    return SavedSession(
        path=path,
        session_id=str(meta.get("session_id") or path.stem),
        created=float(meta.get("created") or path.stat().st_mtime),
        cwd=str(meta.get("cwd") or ""),
        items=tuple(items),
        meta=meta,
    )


def find_session(home: Path, ident: str | None, *, last: bool) -> SavedSession:
    """The newest saved session (``last``) or the one whose id starts with ``ident``."""
    paths = list_sessions(home)
    if not paths:
        raise CodewardError(f"no saved sessions in {sessions_dir(home)}")
    if last or not ident:
        return load_session(paths[0])
    hits = [p for p in paths if p.stem.startswith(ident)]
    if not hits:
        raise CodewardError(f"no saved session with id {ident!r}; see the ids in {sessions_dir(home)}")
    if len(hits) > 1:
        raise CodewardError(f"session id prefix {ident!r} is ambiguous ({len(hits)} sessions); give more of it")
    return load_session(hits[0])
