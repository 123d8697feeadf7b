"""Policy blocks in AGENTS.md, in the seed guide's YAML-ish form, anywhere in the file (DESIGN §3).

::

    disallow_commands:
    - "rm -rf"
    - 'curl | bash'
      - git push --force        # unquoted, any indentation, trailing comment
    allow_commands: ["npm test", "npm run lint"]

A key starts a line (after optional indentation); its items are the following ``- item`` lines, with
blank and ``#`` comment lines allowed in between, until any other line. Inline ``[a, b]`` lists and a
single scalar (``allow_commands: npm test``) are read too. Code fences change nothing: a block
inside a fence counts like one outside it. Each entry's source is ``FILE:LINE`` of its item.

Items follow YAML scalar rules: double quotes with backslash escapes, single quotes with ``''``
for a quote, plain text ending at `` #``. An item that is not a valid scalar (an unclosed quote) is
refused with the file and line: a policy that cannot be read must not be silently ignored.
"""

from __future__ import annotations

import re

from codeward.config.model import PolicyEntry
from codeward.errors import ConfigError
from codeward.policy.rules import Policy, check_patterns

POLICY_KEYS = ("disallow_commands", "allow_commands", "allow_directories", "disallow_directories")

_KEY_RE = re.compile(r"^\s*(" + "|".join(POLICY_KEYS) + r")\s*:(.*)$")
_ITEM_RE = re.compile(r"^\s*-(?:\s+(.*?)|)\s*$")
_COMMENT_RE = re.compile(r"^\s*#")

_DQ_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
}


class _ScalarError(ValueError):
    pass


def parse_agents_policy(text: str, source: str, *, user_owned: bool) -> Policy:
    """The four policy lists written in ``text``; ``source`` names the file (``sub/AGENTS.md``)."""
    policy = Policy()
    lines = text.splitlines()
    i = 0
    n = len(lines)
    while i < n:
        m = _KEY_RE.match(lines[i])
        if not m:
            i += 1
            continue
        key = m.group(1)
        target: list[PolicyEntry] = getattr(policy, key)
        rest = _strip_comment(m.group(2)).strip()
        key_line = i + 1
        i += 1
        if rest:
            try:
                values = _inline_values(rest)
            except _ScalarError as e:
                raise ConfigError(f"{source}:{key_line}: {key}: {e}") from None
            target.extend(PolicyEntry(v, f"{source}:{key_line}", user_owned) for v in values if v.strip())
            continue
        while i < n:
            line = lines[i]
            if not line.strip() or _COMMENT_RE.match(line):
                i += 1
                continue
            im = _ITEM_RE.match(line)
            if not im:
                break
            raw = im.group(1) or ""
            try:
                value = _scalar(raw)
            except _ScalarError as e:
                raise ConfigError(f"{source}:{i + 1}: {key} item {raw!r}: {e}") from None
            if value.strip():
                target.append(PolicyEntry(value, f"{source}:{i + 1}", user_owned))
            i += 1
    check_patterns(policy)
    return policy


def _strip_comment(text: str) -> str:
    """Drop a `` # comment`` that is outside quotes."""
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                if quote == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif c in "\"'" and (i == 0 or text[i - 1] in " \t[,"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i]
        i += 1
    return text


def _scalar(raw: str) -> str:
    s = _strip_comment(raw).strip()
    if not s:
        return ""
    if s[0] == '"':
        value, end = _double_quoted(s, 0)
        if s[end:].strip():
            raise _ScalarError(f"unexpected text after the closing quote: {s[end:].strip()!r}")
        return value
    if s[0] == "'":
        value, end = _single_quoted(s, 0)
        if s[end:].strip():
            raise _ScalarError(f"unexpected text after the closing quote: {s[end:].strip()!r}")
        return value
    return s


def _double_quoted(s: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                break
            e = s[i + 1]
            if e in _DQ_ESCAPES:
                out.append(_DQ_ESCAPES[e])
                i += 2
                continue
            if e in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[e]
                hexpart = s[i + 2 : i + 2 + width]
                if len(hexpart) == width and all(ch in "0123456789abcdefABCDEF" for ch in hexpart):
                    out.append(chr(int(hexpart, 16)))
                    i += 2 + width
                    continue
            raise _ScalarError(f"unknown escape \\{e} in a double-quoted item; write \\\\ for a backslash")
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise _ScalarError("the double quote is not closed")


def _single_quoted(s: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(s):
        c = s[i]
        if c == "'":
            if s[i + 1 : i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise _ScalarError("the single quote is not closed")


def _inline_values(rest: str) -> list[str]:
    """``["a", 'b', c]`` or a single scalar."""
    if not rest.startswith("["):
        return [_scalar(rest)]
    if not rest.endswith("]"):
        raise _ScalarError("the inline list is not closed with ']'")
    body = rest[1:-1]
    values: list[str] = []
    i = 0
    while i < len(body):
        while i < len(body) and body[i] in " \t":
            i += 1
        if i >= len(body):
            break
        if body[i] == '"':
            v, i = _double_quoted(body, i)
        elif body[i] == "'":
            v, i = _single_quoted(body, i)
        else:
            j = body.find(",", i)
            j = len(body) if j < 0 else j
            v = body[i:j].strip()
            i = j
        values.append(v)
        while i < len(body) and body[i] in " \t":
            i += 1
        if i < len(body):
            if body[i] != ",":
                raise _ScalarError(f"expected ',' between list items, found {body[i]!r}")
            i += 1
    return values
