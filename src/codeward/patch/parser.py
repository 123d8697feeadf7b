"""Parse the Codex patch grammar into plain data, without touching any file.

The grammar (DESIGN §5, codex.md §3)::

    Patch  := "*** Begin Patch" NL { FileOp } "*** End Patch" [NL]
    FileOp := "*** Add File: " path NL { "+" line NL }
            | "*** Delete File: " path NL
            | "*** Update File: " path NL [ "*** Move to: " path NL ] { Hunk }
    Hunk   := "@@" [ " " header ] NL { (" " | "-" | "+") text NL } [ "*** End of File" NL ]

Models get this format slightly wrong in predictable ways, so the parser is as lenient as Codex where
the meaning stays unambiguous, and refuses everything else with the patch line number and what was
expected:

* a heredoc wrapper (``apply_patch <<'EOF'`` ... ``EOF``, or just ``<<EOF``) and a Markdown code fence
  around the patch are removed;
* CRLF line breaks in the patch text, a missing final newline, a leading BOM;
* markers padded with whitespace (`` *** Begin Patch``, ``*** End Patch ``, ``  *** Update File: x``).
  Inside a hunk body a line that starts with a space is always a context line, so a padded marker
  there is read as context: that keeps files which themselves contain patch text editable;
* a blank line inside a hunk is an empty context line; blank lines that only separate a hunk from
  the next ``@@`` or file operation are dropped (unless ``*** End of File`` follows them);
* the first hunk of an update may omit its ``@@`` line; several ``@@ header`` lines in a row narrow
  the position step by step (``@@ class A`` then ``@@ def f``);
* a unified-diff range header (``@@ -12,5 +12,6 @@``) is taken as a bare ``@@``: its numbers are
  not used, the context lines decide;
* blank lines inside an Add File body are empty lines of the new file; trailing ones are dropped.

Paths must be relative POSIX paths inside the workspace: absolute paths, ``~``, ``..`` components,
empty paths, NUL and other control characters are refused here, before any file is looked at. The
one exception: given the workspace root, an absolute path under it (as models write them after
seeing the working directory) is turned into the relative path it names, then checked the same way.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

from codeward.patch.errors import PatchError

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File:"
DELETE = "*** Delete File:"
UPDATE = "*** Update File:"
MOVE = "*** Move to:"
END_OF_FILE = "*** End of File"

_HEREDOC_START = re.compile(r"""^\s*(?:(?:apply_patch|applypatch)\s*)?<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1\s*$""")
_FENCE_START = re.compile(r"^\s*```[\w+-]*\s*$")
_UNIFIED_RANGE = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")

OpKind = Literal["add", "delete", "update"]
LineKind = Literal[" ", "-", "+"]


class HunkLine(NamedTuple):
    """One body line of a hunk: ``kind`` is its prefix (context, removal, addition)."""

    kind: LineKind
    text: str


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` section: where to look (headers, end-of-file anchor) and what to change there.

    ``headers`` are the texts of the ``@@ header`` lines, outermost first; each must match a line of
    the file, in order, before the body is searched. ``line`` is the patch line the hunk starts on,
    so errors can point the model at it.
    """

    headers: tuple[str, ...]
    lines: tuple[HunkLine, ...]
    end_of_file: bool = False
    line: int = 0

    @property
    def old_lines(self) -> list[str]:
        """The lines the file must contain here (context and removals), in order."""
        return [ln.text for ln in self.lines if ln.kind != "+"]

    @property
    def new_lines(self) -> list[str]:
        """The lines that replace them (context and additions), in order."""
        return [ln.text for ln in self.lines if ln.kind != "-"]


@dataclass(frozen=True)
class FileOp:
    """One file operation of a patch.

    ``path`` and ``move_to`` are the patch's relative POSIX paths, validated and normalised
    (``./`` and doubled slashes removed). ``content`` holds an added file's lines (without the
    ``+``); ``hunks`` an update's sections. ``line`` is the patch line of the operation's header.
    """

    kind: OpKind
    path: str
    move_to: str | None = None
    content: tuple[str, ...] = ()
    hunks: tuple[Hunk, ...] = ()
    line: int = 0

    def added_text(self) -> str:
        """The full text of an added file: every line ends with a newline; no lines, empty file."""
        return "".join(line + "\n" for line in self.content)


@dataclass(frozen=True)
class Patch:
    """A parsed patch: its file operations in the order they are applied."""

    ops: tuple[FileOp, ...]

    def paths(self) -> list[str]:
        """Every path the patch reads or writes, move targets included, each once, in patch order."""
        seen: dict[str, None] = {}
        for op in self.ops:
            seen.setdefault(op.path)
            if op.move_to is not None:
                seen.setdefault(op.move_to)
        return list(seen)

    def map_lines(self, change: Callable[[str], str]) -> Patch:
        """The same patch with ``change`` applied to every line of content (added files' lines, hunk
        lines, ``@@`` headers), never to a path; a changed line holding newlines becomes that many
        lines of the same kind. ``apply_patch`` puts real values back for placeholders this way,
        after the model's own text was parsed: a parse error then quotes only what the model sent,
        and a value never becomes part of a file name (red team rt19)."""

        def lines(texts: Iterable[str]) -> tuple[str, ...]:
            return tuple(piece for t in texts for piece in change(t).split("\n"))

        ops = []
        for op in self.ops:
            hunks = tuple(
                replace(
                    h,
                    headers=tuple(change(x) for x in h.headers),
                    lines=tuple(HunkLine(ln.kind, piece) for ln in h.lines for piece in change(ln.text).split("\n")),
                )
                for h in op.hunks
            )
            ops.append(replace(op, content=lines(op.content), hunks=hunks))
        return Patch(tuple(ops))


class _Line(NamedTuple):
    no: int
    text: str


def parse_patch(text: str, *, roots: tuple[str, ...] = (), base: str = "") -> Patch:
    """Parse patch text into a :class:`Patch`; raise :class:`PatchError` naming the bad line.

    ``roots`` are the workspace root's absolute spellings (as given and resolved): an absolute path
    under one of them is taken as the workspace path it names, made relative to ``base`` (the
    working directory, workspace-relative) like every other path. Other absolute paths are refused.
    """
    if not isinstance(text, str):
        raise PatchError("apply_patch input must be a string holding the patch text")
    lines = _unwrap(_split_lines(text))
    if not lines:
        raise PatchError("the patch is empty; it must start with '*** Begin Patch' and end with '*** End Patch'")
    first, last = lines[0], lines[-1]
    if first.text.strip() != BEGIN:
        raise PatchError(f"patch line {first.no}: expected '{BEGIN}' as the first line, got {_show(first.text)}")
    if len(lines) == 1:
        raise PatchError(f"patch line {first.no}: '{END}' is missing; the patch must end with it")
    if last.text.strip() != END:
        raise PatchError(f"patch line {last.no}: expected '{END}' as the last line, got {_show(last.text)}")
    ops = _BodyParser(lines[1:-1], _Paths(roots, base)).parse()
    if not ops:
        raise PatchError(
            f"patch line {last.no}: the patch has no file operations; "
            f"add '{ADD} PATH', '{UPDATE} PATH' or '{DELETE} PATH' sections"
        )
    return Patch(ops=tuple(ops))


def _split_lines(text: str) -> list[_Line]:
    """Number the lines (1-based) after dropping a BOM and turning CRLF into LF."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [_Line(i, t) for i, t in enumerate(parts, 1)]


def _trim_blank(lines: list[_Line]) -> list[_Line]:
    start, end = 0, len(lines)
    while start < end and not lines[start].text.strip():
        start += 1
    while end > start and not lines[end - 1].text.strip():
        end -= 1
    return lines[start:end]


def _unwrap(lines: list[_Line]) -> list[_Line]:
    """Remove a Markdown code fence and/or a heredoc wrapper around the patch."""
    lines = _trim_blank(lines)
    if len(lines) >= 2 and _FENCE_START.match(lines[0].text) and lines[-1].text.strip() == "```":
        lines = _trim_blank(lines[1:-1])
    if lines:
        m = _HEREDOC_START.match(lines[0].text)
        if m:
            delimiter = m.group(2)
            if len(lines) < 2 or lines[-1].text.strip() != delimiter:
                raise PatchError(
                    f"patch line {lines[0].no}: the heredoc '<<{delimiter}' is not closed; "
                    f"end the input with a line holding only '{delimiter}'"
                )
            lines = _trim_blank(lines[1:-1])
    return lines


def _show(text: str, limit: int = 80) -> str:
    """A line quoted for an error message, cut to ``limit`` characters."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def check_path(raw: str, *, where: str) -> str:
    """Validate a patch path and return its normal form; ``where`` prefixes the error message.

    Refused: empty, absolute (POSIX, ``\\``-rooted or drive-letter), ``~``-relative, any ``..``
    component, a trailing ``/`` (a directory), NUL and other control characters.
    """
    path = raw.strip()
    if not path:
        raise PatchError(f"{where}: the path is empty; give a file path relative to the workspace root")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        bad = "a NUL byte" if "\x00" in path else "a control character"
        raise PatchError(f"{where}: the path {path!r} contains {bad}; use a plain relative path")
    if path.startswith(("/", "\\")) or _WINDOWS_ABSOLUTE.match(path):
        raise PatchError(f"{where}: the path {path!r} is absolute; use a path relative to the workspace root")
    if path.startswith("~"):
        raise PatchError(f"{where}: the path {path!r} starts with '~'; use a path relative to the workspace root")
    if ".." in path.split("/"):
        raise PatchError(f"{where}: the path {path!r} contains '..'; paths must stay inside the workspace")
    if path.endswith("/"):
        raise PatchError(f"{where}: the path {path!r} ends with '/' and names a directory; give a file path")
    norm = posixpath.normpath(path)
    if norm in ("", "."):
        raise PatchError(f"{where}: the path {path!r} names the workspace root, not a file")
    return norm


class _Paths:
    """Checks each patch path, turning an absolute one inside the workspace into a relative one."""

    def __init__(self, roots: tuple[str, ...], base: str) -> None:
        self.roots = tuple(posixpath.normpath(r) for r in roots if r.startswith("/"))
        self.base = "" if base in ("", ".") else posixpath.normpath(base)

    def check(self, raw: str, *, where: str) -> str:
        path = raw.strip()
        if self.roots and path.startswith("/") and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
            inside = self._inside(posixpath.normpath(path))
            if inside is None:
                raise PatchError(
                    f"{where}: the path {path!r} is absolute and outside the workspace ({self.roots[0]}); "
                    "use a path relative to the workspace root"
                )
            rel = check_path(inside, where=where)
            # relative to the working directory, as plain paths are; ".." only as this conversion makes it
            return posixpath.relpath(rel, self.base) if self.base else rel
        return check_path(raw, where=where)

    def _inside(self, path: str) -> str | None:
        for root in self.roots:
            if path.startswith(root.rstrip("/") + "/"):
                return path[len(root.rstrip("/")) + 1 :]
        return None


def _marker_rest(stripped: str, marker: str) -> str | None:
    """The text after ``marker`` when a (stripped) line starts with it."""
    return stripped[len(marker) :] if stripped.startswith(marker) else None


class _BodyParser:
    """Walks the lines between Begin and End Patch, producing file operations."""

    def __init__(self, lines: list[_Line], paths: _Paths | None = None) -> None:
        self.lines = lines
        self.i = 0
        self.paths = paths or _Paths((), "")

    def parse(self) -> list[FileOp]:
        ops: list[FileOp] = []
        while self.i < len(self.lines):
            no, raw = self.lines[self.i]
            s = raw.strip()
            if not s:
                self.i += 1
                continue
            if (rest := _marker_rest(s, ADD)) is not None:
                path = self.paths.check(rest, where=f"patch line {no} ({ADD})")
                self.i += 1
                ops.append(FileOp(kind="add", path=path, content=self._add_body(path), line=no))
            elif (rest := _marker_rest(s, DELETE)) is not None:
                path = self.paths.check(rest, where=f"patch line {no} ({DELETE})")
                self.i += 1
                ops.append(FileOp(kind="delete", path=path, line=no))
            elif (rest := _marker_rest(s, UPDATE)) is not None:
                path = self.paths.check(rest, where=f"patch line {no} ({UPDATE})")
                self.i += 1
                ops.append(self._update(path, no))
            else:
                raise PatchError(self._unexpected(no, raw, s))
        return ops

    def _unexpected(self, no: int, raw: str, s: str) -> str:
        if s == END:
            return f"patch line {no}: '{END}' before the end of the input; send one patch per call"
        if s == BEGIN:
            return f"patch line {no}: a second '{BEGIN}'; send one patch per call"
        if s.startswith(MOVE):
            return f"patch line {no}: '{MOVE}' must come right after its '{UPDATE} PATH' line"
        if s.startswith(END_OF_FILE):
            return f"patch line {no}: '{END_OF_FILE}' must end a hunk of an '{UPDATE}' section"
        if s.startswith("***"):
            return (
                f"patch line {no}: unknown marker {_show(s)}; expected '{ADD} PATH', "
                f"'{UPDATE} PATH', '{DELETE} PATH' or '{END}'"
            )
        return (
            f"patch line {no}: expected a file operation ('{ADD} PATH', '{UPDATE} PATH' or "
            f"'{DELETE} PATH'), got {_show(raw)}"
        )

    def _add_body(self, path: str) -> tuple[str, ...]:
        content: list[str] = []
        blanks = 0
        while self.i < len(self.lines):
            no, raw = self.lines[self.i]
            if raw.startswith("+"):
                content.extend([""] * blanks)
                blanks = 0
                content.append(raw[1:])
            elif not raw.strip():
                blanks += 1
            elif raw.lstrip().startswith("***"):
                break
            else:
                raise PatchError(f"patch line {no}: every line of '{ADD} {path}' must start with '+'; got {_show(raw)}")
            self.i += 1
        return tuple(content)

    def _update(self, path: str, header_no: int) -> FileOp:
        move_to: str | None = None
        j = self.i
        while j < len(self.lines) and not self.lines[j].text.strip():
            j += 1
        if j < len(self.lines) and (rest := _marker_rest(self.lines[j].text.strip(), MOVE)) is not None:
            move_to = self.paths.check(rest, where=f"patch line {self.lines[j].no} ({MOVE})")
            self.i = j + 1
        hunks = _HunkCollector(path)
        while self.i < len(self.lines):
            no, raw = self.lines[self.i]
            if raw.startswith("***") or (raw[:1] not in (" ", "+", "-") and raw.lstrip().startswith("***")):
                if raw.strip() == END_OF_FILE:
                    hunks.end_of_file(no)
                    self.i += 1
                    continue
                break
            if raw.startswith("@@"):
                hunks.header(no, raw.rstrip())
            elif raw[:1] in (" ", "+", "-"):
                hunks.body(no, HunkLine(raw[0], raw[1:]), blank=False)  # type: ignore[arg-type]
            elif not raw.strip():
                hunks.body(no, HunkLine(" ", ""), blank=True)
            else:
                raise PatchError(
                    f"patch line {no}: in hunk {hunks.number()} of '{path}', expected a line starting with "
                    f"' ' (context), '-' (remove) or '+' (add), or '@@' or '{END_OF_FILE}'; got {_show(raw)}"
                )
            self.i += 1
        done = hunks.finish()
        if not done and move_to is None:
            raise PatchError(
                f"patch line {header_no}: '{UPDATE} {path}' has no hunks; add '@@' sections with "
                f"' ' (context), '-' and '+' lines"
            )
        return FileOp(kind="update", path=path, move_to=move_to, hunks=tuple(done), line=header_no)


class _HunkCollector:
    """Accumulates the hunks of one Update File section."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.hunks: list[Hunk] = []
        self.headers: list[str] = []
        self.lines: list[HunkLine] = []
        self.trailing_blanks = 0
        self.start: int | None = None  # patch line of the open hunk's first line

    def number(self) -> int:
        return len(self.hunks) + 1

    def header(self, no: int, text: str) -> None:
        if self.lines:
            self._close(end_of_file=False)
        if text == "@@" or _UNIFIED_RANGE.match(text):
            header = None
        elif text.startswith("@@ "):
            header = text[3:] if text[3:].strip() else None
        else:
            raise PatchError(
                f"patch line {no}: in '{UPDATE} {self.path}', a hunk header is '@@' or '@@ TEXT' "
                f"(a line to anchor on); got {_show(text)}"
            )
        if self.start is None:
            self.start = no
        if header is not None:
            self.headers.append(header)

    def body(self, no: int, line: HunkLine, *, blank: bool) -> None:
        if self.start is None:
            if blank:
                return  # blank lines between hunks or before the first one separate, nothing more
            if self.hunks:
                raise PatchError(
                    f"patch line {no}: in '{UPDATE} {self.path}', start a new hunk with '@@' after "
                    f"'{END_OF_FILE}'; got {_show(line.kind + line.text)}"
                )
            self.start = no  # the first hunk may omit its '@@' line
        self.lines.append(line)
        self.trailing_blanks = self.trailing_blanks + 1 if blank else 0

    def end_of_file(self, no: int) -> None:
        if not self.lines:
            raise PatchError(
                f"patch line {no}: '{END_OF_FILE}' must follow the lines of a hunk in '{UPDATE} {self.path}'"
            )
        self.trailing_blanks = 0  # blank lines right before the end anchor are real (empty) lines
        self._close(end_of_file=True)

    def finish(self) -> list[Hunk]:
        if self.lines:
            self._close(end_of_file=False)
        if self.start is not None:
            raise PatchError(
                f"patch line {self.start}: hunk {self.number()} of '{UPDATE} {self.path}' has a '@@' line "
                f"but no ' ', '-' or '+' lines"
            )
        return self.hunks

    def _close(self, *, end_of_file: bool) -> None:
        lines = self.lines[: len(self.lines) - self.trailing_blanks] if self.trailing_blanks else self.lines
        if not lines:  # only separating blank lines so far: the hunk is still open, waiting for its body
            self.lines, self.trailing_blanks = [], 0
            return
        self.hunks.append(
            Hunk(headers=tuple(self.headers), lines=tuple(lines), end_of_file=end_of_file, line=self.start or 0)
        )
        self.headers, self.lines, self.trailing_blanks, self.start = [], [], 0, None
