"""The files in a worktree that git executes or reads config from, named by a repository's own config.

``.git`` itself is protected by name; this finds what its config points at: ``core.hooksPath``
(``.husky``, ``.githooks``, lefthook's dirs), ``include.path`` / ``includeIf.*.path`` targets
(``../.gitconfig``), and programs named by path in command settings (``core.fsmonitor =
tools/watch.sh``, a filter or textconv script, an alias ``!./x.sh``). A command that could rewrite
one of them would choose what the user's next ``git status`` or ``git commit`` runs on the host,
so they are protected like ``.git``. Pure reading: no git process is started.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MAX_INCLUDE_DEPTH = 10
# settings whose value is a program (first word) git runs
_COMMAND_KEYS = re.compile(
    r"^(core\.(fsmonitor|sshcommand|editor|pager|askpass|alternaterefscommand)|sequence\.editor|"
    r"gpg(\.[^.]+)?\.program|diff\.external|credential(\..+)?\.helper|"
    r"(filter|diff|merge)\..+\.(clean|smudge|process|textconv|command|driver)|alias\..+)$"
)
_SECTION = re.compile(r'^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def parse_config(text: str) -> list[tuple[str, str]]:
    """(lower-cased key, value) pairs of a git config file, in order; enough of the syntax for paths.

    ``[section "sub"]`` keeps the subsection's case, as git does; quotes and backslash escapes in
    values are undone, ``;``/``#`` comments outside quotes dropped.
    """
    out: list[tuple[str, str]] = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        while line.startswith("["):
            m = _SECTION.match(line)
            if not m:
                line = ""
                break
            name, sub = m.group(1).lower(), m.group(2)
            if sub is not None:
                section = f"{name}.{sub}"
            else:
                head, _, rest = name.partition(".")  # old [section.sub] form
                section = f"{head}.{rest}" if rest else head
            line = line[m.end() :].strip()
        if not line or line[0] in "#;" or not section:
            continue
        key, eq, value = line.partition("=")
        key = key.strip().lower()
        if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
            continue
        out.append((f"{section}.{key}", _value(value) if eq else "true"))
    return out


def _value(v: str) -> str:
    out: list[str] = []
    quoted = False
    i = 0
    v = v.strip()
    while i < len(v):
        c = v[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and i + 1 < len(v):
            i += 1
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(v[i], v[i]))
        elif c in "#;" and not quoted:
            break
        else:
            out.append(c)
        i += 1
    return "".join(out).strip()


def _program(value: str) -> str | None:
    """The program a command setting names by path (``./x.sh``, ``tools/x``), if it names one."""
    v = value.strip()
    if v.startswith("!"):
        v = v[1:].strip()
    word = v.split(None, 1)[0] if v else ""
    word = word.strip("'\"")
    return word if "/" in word else None


def git_config_paths(git_dir: Path, worktree: Path) -> list[Path]:
    """Paths (absolute, normalised) that the config of ``git_dir`` makes git run or read.

    ``worktree`` is where hooks run and relative commands start (the directory holding ``.git``).
    Included files are read in turn (relative to the file that includes them), up to a depth.
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def norm(base: Path, p: str) -> Path | None:
        if not p or p.startswith("~"):
            return None
        q = Path(p)
        return Path(os.path.normpath(q if q.is_absolute() else base / q))

    def read(cfg: Path, depth: int) -> None:
        if cfg in seen or depth > MAX_INCLUDE_DEPTH:
            return
        seen.add(cfg)
        try:
            text = cfg.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        for key, value in parse_config(text):
            if key == "core.hookspath":
                p = norm(worktree, value)
            elif key == "include.path" or (key.startswith("includeif.") and key.endswith(".path")):
                p = norm(cfg.parent, value)
                if p is not None:
                    found.append(p)
                    read(p, depth + 1)
                continue
            elif _COMMAND_KEYS.match(key):
                prog = _program(value)
                p = norm(worktree, prog) if prog else None
            else:
                continue
            if p is not None:
                found.append(p)

    for name in ("config", "config.worktree"):
        read(git_dir / name, 0)
    commondir = git_dir / "commondir"
    if commondir.is_file():
        try:
            common = norm(git_dir, commondir.read_text(encoding="utf-8", errors="replace").strip())
        except OSError:
            common = None
        if common is not None:
            found.append(common)
            read(common / "config", 0)
    return list(dict.fromkeys(found))
