"""Compute every file's new content from a parsed patch, without writing anything.

Planning is pure: the only input from the outside is ``read(path) -> bytes | None``. Every hunk of
every file is matched before the first byte is written, so a patch either plans completely or fails
with a message that names the file, the hunk and the lines that were not found. The result is the
list of :class:`FileChange` an approval UI shows and :func:`codeward.patch.apply.apply_changes`
writes.

Decisions where Codex is looser (each chosen because an approval UI must show exactly what happens):

* **Add File onto an existing file is refused** ("already exists; use Update File"). Codex
  overwrites; a silent overwrite would show as an "add" in the approval prompt while destroying a file.
* **Move to an existing file is refused** unless it is the same path (then it is a plain update).
* Delete or Update of a missing file, and Update of a non-UTF-8 file, are refused.
* **Several operations on one path** are applied in patch order, each on the content planned so
  far (as Codex does, but without touching the disk in between). The result is collapsed into one
  change per path: an Update of a file added earlier in the patch is just an add, a Move followed by
  an Update of the new path is one move.
* A hunk with no context or removed lines (pure addition) is appended at the end of the file, as in
  Codex, unless it has an ``@@ header``: then it goes right after the header line. An appended
  hunk does not move the search position, so hunks after it are still found (as in Codex).
* Line endings: each original line keeps its own ending (LF or CRLF); added lines get the file's
  dominant ending. Context lines keep the file's text even when they matched fuzzily. A file that
  ended without a newline keeps it that way unless the patch changes its last line; a line the patch
  adds or moves away from the end always gets a newline. A UTF-8 BOM is kept.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from codeward.patch.errors import PatchError
from codeward.patch.parser import ADD, DELETE, MOVE, UPDATE, FileOp, Hunk, HunkLine, Patch, check_path
from codeward.patch.seek import LineIndex, find_line, find_sequence, fold_punctuation

Reader = Callable[[str], bytes | None]
ChangeKind = Literal["add", "delete", "update"]

_BOM = "\ufeff"
_SHOW_LINES = 12


@dataclass(frozen=True)
class FileChange:
    """One file's planned change.

    ``path`` is workspace-relative POSIX (for a move, the new path; ``old_path`` is the old one).
    ``old`` is the content the plan was computed from (None when the file is created) and ``new``
    the content to write (None when it is deleted). The applier refuses to write when the file no
    longer holds ``old``.
    """

    path: str
    kind: ChangeKind
    old_path: str | None
    old: bytes | None
    new: bytes | None


def plan_patch(patch: Patch, read: Reader, *, base: str = "") -> list[FileChange]:
    """Plan every operation of ``patch`` against the files ``read`` returns; raise PatchError on any failure.

    ``read(path)`` gets a workspace-relative POSIX path and returns the file's bytes, or None when
    no file is there; it may raise PatchError (a directory, a symlink) or OSError. ``base`` is the
    workspace-relative directory the patch's paths are relative to (the session's working
    directory; empty for the workspace root). Changes come out in patch order, one per path, and
    operations that leave a file as it was produce none.
    """
    prefix = "" if base in ("", ".") else check_path(base, where="plan_patch base directory")
    state = _State(read)
    for op in patch.ops:
        state.run(op, prefix)
    return state.changes()


class _State:
    """The planned content of every path touched so far, and where it came from."""

    def __init__(self, read: Reader) -> None:
        self.read = read
        self.orig: dict[str, bytes | None] = {}
        self.cur: dict[str, bytes | None] = {}
        self.order: list[str] = []
        self.moved_from: dict[str, str] = {}  # path -> the original path its content was moved from
        self.gone_at: dict[str, int] = {}  # path -> patch line of the op that deleted or moved it away
        self.added_at: dict[str, int] = {}  # path -> patch line of the op that added it

    def get(self, path: str) -> bytes | None:
        if path not in self.cur:
            data = self._read(path)
            self.orig[path] = data
            self.cur[path] = data
            self.order.append(path)
        return self.cur[path]

    def _read(self, path: str) -> bytes | None:
        try:
            data = self.read(path)
        except PatchError:
            raise
        except OSError as e:
            raise PatchError(f"{path}: cannot be read ({e.strerror or e}); nothing was changed") from None
        if data is None:
            return None
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"read({path!r}) returned {type(data).__name__}, expected bytes or None")
        return bytes(data)

    def run(self, op: FileOp, prefix: str) -> None:
        path = _join(prefix, op.path)
        if op.kind == "add":
            self._add(op, path)
        elif op.kind == "delete":
            self._delete(op, path)
        else:
            self._update(op, path, _join(prefix, op.move_to) if op.move_to is not None else None)

    def _missing(self, path: str, action: str) -> str:
        if path in self.gone_at:
            return f"{path}: cannot {action}: patch line {self.gone_at[path]} already deleted or moved it away"
        return f"{path}: cannot {action}: the file does not exist"

    def _add(self, op: FileOp, path: str) -> None:
        if self.get(path) is not None:
            if path in self.added_at:
                raise PatchError(
                    f"{path}: patch line {op.line} adds it again after patch line {self.added_at[path]}; "
                    f"add each file once"
                )
            raise PatchError(
                f"{path}: cannot add (patch line {op.line}): the file already exists; use '{UPDATE} {path}' "
                f"to change it, or '{DELETE} {path}' before adding it to replace it"
            )
        self.cur[path] = op.added_text().encode("utf-8")
        self.added_at[path] = op.line
        self.moved_from.pop(path, None)

    def _delete(self, op: FileOp, path: str) -> None:
        if self.get(path) is None:
            raise PatchError(self._missing(path, f"delete (patch line {op.line})") + "; leave it out of the patch")
        self.cur[path] = None
        self.gone_at[path] = op.line
        self.moved_from.pop(path, None)
        self.added_at.pop(path, None)

    def _update(self, op: FileOp, path: str, dest: str | None) -> None:
        data = self.get(path)
        if data is None:
            raise PatchError(
                self._missing(path, f"update (patch line {op.line})") + f"; use '{ADD} {path}' to create it"
            )
        if dest == path:
            dest = None
        if dest is not None and self.get(dest) is not None:
            raise PatchError(
                f"{dest}: cannot move {path} there (patch line {op.line}, '{MOVE}'): the file already exists; "
                f"delete it first with '{DELETE} {dest}' or choose another name"
            )
        new = apply_hunks(path, data, op.hunks) if op.hunks else data
        if dest is None:
            self.cur[path] = new
            return
        self.cur[path] = None
        self.gone_at[path] = op.line
        self.added_at.pop(path, None)
        self.cur[dest] = new
        self.moved_from[dest] = self.moved_from.pop(path, path)

    def changes(self) -> list[FileChange]:
        # A move is one change when the source existed before and is gone, and the destination did
        # not exist before and does now; anything more tangled is shown as separate adds/deletes.
        pair_of_source: dict[str, str] = {}
        for dest, src in self.moved_from.items():
            if (
                src != dest
                and src in self.orig
                and self.orig[dest] is None
                and self.cur[dest] is not None
                and self.orig[src] is not None
                and self.cur[src] is None
                and src not in pair_of_source
            ):
                pair_of_source[src] = dest
        paired_dests = set(pair_of_source.values())
        out: list[FileChange] = []
        for path in self.order:
            if path in paired_dests:
                continue
            old, new = self.orig[path], self.cur[path]
            if path in pair_of_source:
                dest = pair_of_source[path]
                out.append(FileChange(path=dest, kind="update", old_path=path, old=old, new=self.cur[dest]))
            elif old == new:
                continue
            elif old is None:
                out.append(FileChange(path=path, kind="add", old_path=None, old=None, new=new))
            elif new is None:
                out.append(FileChange(path=path, kind="delete", old_path=None, old=old, new=None))
            else:
                out.append(FileChange(path=path, kind="update", old_path=None, old=old, new=new))
        return out


def _join(prefix: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(prefix, path)) if prefix else path


# --- text model -------------------------------------------------------------------------------------


@dataclass
class _Text:
    """A decoded file: its lines without endings, each line's ending, the BOM, the dominant ending."""

    lines: list[str]
    eols: list[str]  # "\n", "\r\n", or "" for a last line without a newline
    bom: bool
    eol: str


def _decode(path: str, data: bytes) -> _Text:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PatchError(
            f"{path}: not UTF-8 text (undecodable byte at offset {e.start}); apply_patch cannot edit binary "
            f"files, leave it out of the patch"
        ) from None
    bom = text.startswith(_BOM)
    if bom:
        text = text[1:]
    parts = text.split("\n")
    last = parts.pop()  # "" when the text ends with a newline (or is empty)
    lines: list[str] = []
    eols: list[str] = []
    for part in parts:
        if part.endswith("\r"):
            lines.append(part[:-1])
            eols.append("\r\n")
        else:
            lines.append(part)
            eols.append("\n")
    if last:
        lines.append(last)
        eols.append("")
    crlf = eols.count("\r\n")
    return _Text(lines=lines, eols=eols, bom=bom, eol="\r\n" if crlf > eols.count("\n") else "\n")


def _encode(t: _Text) -> bytes:
    body = "".join(line + eol for line, eol in zip(t.lines, t.eols, strict=True))
    return ((_BOM if t.bom else "") + body).encode("utf-8")


def apply_hunks(path: str, data: bytes, hunks: Sequence[Hunk]) -> bytes:
    """The content of ``data`` after ``hunks``; each hunk is found after the previous one's match."""
    text = _decode(path, data)
    index = LineIndex(text.lines)
    edits: list[tuple[int, int, list[HunkLine]]] = []  # (first line, lines replaced, hunk body)
    pos = 0
    for number, hunk in enumerate(hunks, 1):
        search = pos
        for header in hunk.headers:
            found = find_line(index, header, search)
            if found is None:
                raise _header_not_found(path, number, hunk, header, search)
            search = found.line_index + 1
        body = list(hunk.lines)
        old = [ln.text for ln in body if ln.kind != "+"]
        if not old:
            if hunk.end_of_file or not hunk.headers:
                # appended at the end, as Codex does; the next hunk is still searched from here,
                # so "add at the end" followed by a hunk with context applies
                edits.append((len(index), 0, body))
            else:
                edits.append((search, 0, body))
                pos = search
            continue
        match = find_sequence(index, old, search, at_end=hunk.end_of_file)
        if match is None:
            trimmed = _drop_trailing_blank_context(body)
            trimmed_old = [ln.text for ln in trimmed if ln.kind != "+"]
            if trimmed_old and len(trimmed) < len(body):
                match = find_sequence(index, trimmed_old, search, at_end=hunk.end_of_file)
                body, old = trimmed, trimmed_old
        if match is None:
            raise _hunk_not_found(path, number, hunk, index, search)
        edits.append((match.line_index, len(old), body))
        pos = match.line_index + len(old)
    edits.sort(key=lambda e: e[0])  # stable: insertions at one place stay in patch order
    _refuse_overlaps(path, edits)
    return _encode(_splice(text, edits))


def _refuse_overlaps(path: str, edits: list[tuple[int, int, list[HunkLine]]]) -> None:
    end = 0
    for at, count, _ in edits:
        if at < end:
            raise PatchError(f"{path}: two hunks change the same lines (line {at + 1}); merge them into one hunk")
        end = max(end, at + count)


def _drop_trailing_blank_context(body: list[HunkLine]) -> list[HunkLine]:
    end = len(body)
    while end > 0 and body[end - 1].kind == " " and not body[end - 1].text.strip():
        end -= 1
    return body[:end]


def _splice(text: _Text, edits: list[tuple[int, int, list[HunkLine]]]) -> _Text:
    lines: list[str] = []
    eols: list[str | None] = []  # None: an added line, which gets the dominant ending
    cursor = 0
    for at, _count, body in edits:
        lines.extend(text.lines[cursor:at])
        eols.extend(text.eols[cursor:at])
        j = at
        for kind, line in body:
            if kind == " ":
                lines.append(text.lines[j])  # the file's own text, even after a fuzzy match
                eols.append(text.eols[j])
                j += 1
            elif kind == "-":
                j += 1
            else:
                lines.append(line)
                eols.append(None)
        cursor = j
    lines.extend(text.lines[cursor:])
    eols.extend(text.eols[cursor:])
    last = len(lines) - 1
    fixed = [text.eol if eol is None or (eol == "" and i != last) else eol for i, eol in enumerate(eols)]
    return _Text(lines=lines, eols=fixed, bom=text.bom, eol=text.eol)


# --- error messages ---------------------------------------------------------------------------------


def _where(path: str, number: int, hunk: Hunk) -> str:
    return f"{path}: hunk {number} (patch line {hunk.line})"


def _after(search: int) -> str:
    return f" after line {search}" if search > 0 else ""


def _header_not_found(path: str, number: int, hunk: Hunk, header: str, search: int) -> PatchError:
    return PatchError(
        f"{_where(path, number, hunk)}: the anchor line '@@ {header}' was not found{_after(search)}. "
        f"An '@@' header must repeat one line of the file (e.g. '@@ def name(args):'); the hunk is looked "
        f"for after that line. Read the file again and resend the patch."
    )


def _hunk_not_found(path: str, number: int, hunk: Hunk, index: LineIndex, search: int) -> PatchError:
    old = [ln for ln in hunk.lines if ln.kind != "+"]
    shown = "\n".join(f"    {ln.kind}{ln.text}" for ln in old[:_SHOW_LINES])
    if len(old) > _SHOW_LINES:
        shown += f"\n    ... ({len(old) - _SHOW_LINES} more)"
    place = " at the end of the file" if hunk.end_of_file else _after(search)
    hint = _hint(hunk, index, search, [ln.text for ln in old])
    return PatchError(
        f"{_where(path, number, hunk)}: these context/removed lines were not found{place}:\n{shown}\n{hint}"
        f"Read the file again and resend the patch with its current lines as context."
    )


def _hint(hunk: Hunk, index: LineIndex, search: int, old: list[str]) -> str:
    anywhere = find_sequence(index, old, 0)
    if anywhere is not None and hunk.end_of_file:
        return (
            f"They occur at line {anywhere.line_index + 1}, but '*** End of File' requires them to be the last "
            f"lines of the file.\n"
        )
    if anywhere is not None and anywhere.line_index < search:
        return (
            f"They occur at line {anywhere.line_index + 1}, before the previous hunk's match or anchor (line "
            f"{search}); hunks must be in file order.\n"
        )
    first = next((t for t in old if t.strip()), None)
    if first is None:
        return ""
    want = fold_punctuation(first)
    hits = [i + 1 for i, key in enumerate(index.keys_folded()) if key == want][:5]
    if hits:
        where = ", ".join(str(h) for h in hits)
        return f"The first line '{first.strip()}' occurs at line(s) {where}, but the lines after it differ.\n"
    # quoted as written, never repr(): the line may hold a restored secret, and repr doubles its
    # backslashes into a form no known value matches (red team rt20)
    return f"No line of the file matches the first line '{first.strip()}'.\n"
