"""sed scripts, vim/ex commands and gdb commands: the shell commands they can run.

* sed (GNU): the ``e COMMAND`` command runs COMMAND; a bare ``e`` and the ``s///e`` flag run text
  built from the input (its replacement is read when it has no ``&`` / ``\\1``); ``--sandbox``
  turns all of that off.
* vim / ex: ``:!cmd``, ``:{range}!cmd``, ``:r !cmd``, ``:w !cmd``, ``:terminal cmd``,
  ``call system("cmd")``, ``execute "…"`` (read again when written out), ``:py3`` / ``:lua`` /
  ``:perl`` / ``:ruby`` code; an ex command we do not know that mentions ``system`` or ``exe`` is opaque.
* gdb: ``shell cmd`` / ``!cmd``, ``pipe … | cmd``, ``python …``, ``call/print system("cmd")``;
  ``run ARGS`` with shell syntax in ARGS is opaque (gdb starts the program through a shell).
"""

from __future__ import annotations

import re

from codeward.policy.inline_found import MAX_INLINE_DEPTH, Found
from codeward.policy.inline_python import read_python
from codeward.policy.inline_scripts import read_script

# ------------------------------------------------------------------------------------------------
# sed


def read_sed(script: str) -> Found:
    """Shell commands a GNU sed script runs (``e``, ``s///e``)."""
    found = Found()
    i = 0
    n = len(script)
    while i < n:
        i = _skip_address(script, i)
        if i >= n:
            break
        c = script[i]
        if c in " \t\n;{}!":
            i += 1
            continue
        if c == "e":
            end = script.find("\n", i)
            end = n if end < 0 else end
            command = script[i + 1 : end].strip()
            if command:
                found.shell.append(command)
            else:
                found.cannot("sed's `e` runs the pattern space, which comes from the input")
            i = end
        elif c in "sy":
            parsed = _s_command(script, i)
            if parsed is None:
                found.cannot("the sed script cannot be read")
                return found
            pattern, replacement, flags, i = parsed
            if c == "s" and "e" in flags:
                whole = pattern in (".*", "^.*", ".*$", "^.*$")
                if not whole or re.search(r"(?<!\\)(&|\\[0-9])", replacement):
                    found.cannot("`s///e` runs text built from the input")
                else:
                    found.shell.append(replacement.replace("\\n", "\n"))
        elif c in "aicrRwW#":
            end = script.find("\n", i)
            i = n if end < 0 else end  # text or a file name to the end of the line
        elif c in "btTv:lLqQ":
            m = re.compile(r"[^;\n}]*").match(script, i + 1)
            i = m.end() if m else n  # a label or a number, up to ';' (read on, never skip a command)
        else:
            i += 1
    return found


def _skip_address(s: str, i: int) -> int:
    while i < len(s):
        c = s[i]
        if c.isdigit() or c in "$,~+ \t":
            i += 1
        elif c == "/" or c == "\\":
            delim = "/" if c == "/" else (s[i + 1] if i + 1 < len(s) else "/")
            j = i + (1 if c == "/" else 2)
            while j < len(s) and s[j] != delim:
                j += 2 if s[j] == "\\" else 1
            i = j + 1
            while i < len(s) and s[i] in "IM":
                i += 1
        else:
            return i
    return i


def _s_command(s: str, i: int) -> tuple[str, str, str, int] | None:
    """``s/pattern/replacement/flags``: pattern, replacement, flags, and where the command ends."""
    if i + 1 >= len(s):
        return None
    delim = s[i + 1]
    parts: list[str] = []
    j = i + 2
    buf: list[str] = []
    while j < len(s) and len(parts) < 2:
        ch = s[j]
        if ch == "\\" and j + 1 < len(s):
            buf.append(s[j : j + 2])
            j += 2
            continue
        if ch == delim:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        j += 1
    if len(parts) < 2:
        return None
    k = j
    while k < len(s) and s[k] not in ";\n}":
        if s[k] in "wW":  # the w flag takes a file name to the end of the line
            end = s.find("\n", k)
            k = len(s) if end < 0 else end
            break
        k += 1
    return parts[0], parts[1], s[j:k], k


# ------------------------------------------------------------------------------------------------
# vim / ex

_BANG = re.compile(r"^[%.$,\d'<>+\-;/\w]*?\s*!(.*)$", re.S)
_READ_WRITE = re.compile(r"^(?:r|re|rea|read|w|wr|wri|writ|write)\s+!(.*)$", re.S)
_TERMINAL = re.compile(r"^(?:ter|term|termi|termin|termina|terminal)(?:\s+\+\+\S+)*\s+(.*)$", re.S)
_EMBEDDED = re.compile(r"^(py3|python3|py|python|pyx|pythonx|lua|perl|pe|ruby|rub)\s+(.*)$", re.S)
_QUOTED = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^']|'')*)'")


def read_vim(command: str, depth: int = 0) -> Found:
    """Shell commands one ``-c`` / ``+`` argument of vim runs."""
    found = Found()
    lines = [ln for ln in command.split("\n") if ln.strip()] if "\n" in command else [command]
    if len(lines) > 1:
        for line in lines:
            found.extend(read_vim(line, depth))
        return found
    for cmd in _split_bar(command):
        cmd = cmd.strip().lstrip(":").strip()
        cmd = re.sub(r"^(?:sil(?:e|en|ent)?!?\s+)+", "", cmd)
        if not cmd:
            continue
        if (m := _READ_WRITE.match(cmd)) or (m := _TERMINAL.match(cmd)):
            found.shell.append(m.group(1))
        elif m := _EMBEDDED.match(cmd):
            lang = m.group(1)
            code = m.group(2)
            if lang.startswith("py"):
                found.extend(read_python(code, depth + 1))
            else:
                found.extend(read_script({"pe": "perl", "rub": "ruby"}.get(lang, lang), code))
        elif re.match(r"^(?:exe|exec|execu|execut|execute)\b", cmd):
            strings = [a if a is not None else b.replace("''", "'") for a, b in _QUOTED.findall(cmd)]
            rest = _QUOTED.sub("", cmd.split(None, 1)[1] if " " in cmd else "").strip(" .")
            if strings and not rest and depth < MAX_INLINE_DEPTH:
                found.extend(read_vim("".join(strings), depth + 1))
            else:
                found.cannot("vim's `execute` runs a computed command")
        elif "system" in cmd or "job_start" in cmd or "jobstart" in cmd or "termopen" in cmd:
            calls = re.findall(r"\b(?:system|systemlist|job_start|jobstart|termopen)\s*\(\s*([^)]*)\)", cmd)
            strings = [_QUOTED.fullmatch(c.strip()) for c in calls]
            if calls and all(strings):
                for m2 in strings:
                    assert m2 is not None
                    found.shell.append(m2.group(1) if m2.group(1) is not None else m2.group(2).replace("''", "'"))
            else:
                found.cannot("vim calls system() with a computed command")
        elif (m := _BANG.match(cmd)) and not re.match(r"^[A-Za-z]+!", cmd):
            found.shell.append(m.group(1))
        elif _SAFE_EX.match(cmd):
            continue
        elif _SUSPICIOUS_EX.search(cmd):
            found.cannot(f"the vim command {cmd[:40]!r} may run something the policy cannot read")
    return found


_SAFE_EX = re.compile(r"^(?:w|wq|q|qa|qall|x|xa|wa|wqa|wn|up|update)!?(?:\s+[\w./-]*)?$")
_SUSPICIOUS_EX = re.compile(
    r"!|\b(?:system|systemlist|exe\w*|job\w*|term\w*|py\w*|lua\w*|perl\w*|rub\w*|call|norm\w*|libcall\w*"
    r"|so|source|runtime|eval|let|au|autocmd|com\w*|fu|function|sh|shell|make|grep|vimgrep|filter|redir)\b"
)


def _split_bar(command: str) -> list[str]:
    """ex commands separated by ``|``; after a ``!`` command the rest of the line is its shell text."""
    out: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(command):
        ch = command[i]
        if ch == "|" and not re.match(r"^\s*:?\s*(?:sil\w*!?\s+)?[%.$,\d'<>+\-;/\w]*?\s*!", "".join(buf)):
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return out


# ------------------------------------------------------------------------------------------------
# gdb


def read_gdb(command: str) -> Found:
    """Shell commands one ``-ex`` command of gdb runs."""
    found = Found()
    cmd = command.strip()
    if m := re.match(r"^(?:shell\s+|!)(.*)$", cmd, re.S):
        found.shell.append(m.group(1))
    elif m := re.match(r"^(?:pipe|\|)\s*(.*)$", cmd, re.S):
        body = m.group(1)
        sep = "|"
        if body.startswith("-d "):
            parts = body.split(None, 2)
            sep = parts[1] if len(parts) > 1 else "|"
            body = parts[2] if len(parts) > 2 else ""
        _gdb_cmd, _, shell = body.partition(sep)
        if shell.strip():
            found.shell.append(shell.strip())
        else:
            found.cannot("gdb's pipe command cannot be read")
    elif m := re.match(r"^(?:python|py|pi|python-interactive)\s+(.*)$", cmd, re.S):
        found.extend(read_python(m.group(1), 1))
    elif re.match(r"^(?:r|ru|run|start|starti)(\s|$)", cmd):
        if re.search(r"[;&|`$<>()]", cmd):
            found.cannot("gdb's run starts the program through a shell, and its arguments have shell syntax")
    elif re.search(r"\$_shell|\bshell\b|\bpipe\b|!", cmd) and "system" not in cmd:
        found.cannot("gdb's command may run a shell command the policy cannot read")
    elif "system" in cmd or "exec" in cmd or "popen" in cmd:
        calls = re.findall(r"\b(?:system|popen)\s*\(\s*\"((?:[^\"\\]|\\.)*)\"", cmd)
        if calls and len(calls) == len(re.findall(r"\b(?:system|popen|exec\w*)\b", cmd)):
            found.shell.extend(calls)
        else:
            found.cannot("gdb calls a function that runs a computed command")
    return found
