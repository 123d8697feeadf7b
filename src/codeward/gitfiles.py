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


def _words(value: str) -> list[str]:
    """The words of a command setting (``!`` and quotes stripped; shell syntax approximated)."""
    import shlex

    v = value.strip()
    if v.startswith("!"):
        v = v[1:].strip()
    try:
        words = shlex.split(v, comments=False)
    except ValueError:
        words = v.split()
    return [w for part in words for w in part.split("=", 1)[-1:]]  # --opt=path -> path


def _named_files(value: str, worktree: Path) -> list[str]:
    """Every word of a command that names a file git would run or read: a path with ``/`` (``./x.sh``,
    ``sh scripts/fsmon.sh``, ``ssh -F ops/ssh_config``) or a bare name present in the worktree
    (``python3 clean.py``). Not only the first word: an interpreter runs its argument."""
    out = []
    for w in _words(value):
        if not w or w.startswith("-") or w.startswith("~"):
            continue
        if "/" in w or (worktree / w).is_file():
            out.append(w)
    return out


def hook_dirs_extra(hooks: Path, worktree: Path) -> list[Path]:
    """What hooks in ``hooks`` run beyond themselves: a symlinked hook's target, files a hook script
    names (``exec ./scripts/commit-msg.sh``), and husky 9's user hooks in the parent of ``.husky/_``."""
    found: list[Path] = []
    if hooks.name == "_" and hooks.parent.name == ".husky":
        found.append(hooks.parent)
    try:
        entries = list(os.scandir(hooks))
    except OSError:
        return found
    for e in entries[:256]:
        p = Path(e.path)
        if e.name.endswith(".sample"):
            continue  # git never runs these
        if e.is_symlink():
            found.append(Path(os.path.realpath(p)))
            continue
        if not e.is_file(follow_symlinks=False):
            continue
        try:
            text = p.read_bytes()[:65536].decode("utf-8", "replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0]
            for w in _named_files(line, worktree):
                q = Path(w)
                for base in (worktree, p.parent):
                    cand = Path(os.path.normpath(q if q.is_absolute() else base / q))
                    if cand.is_file():  # a script or config a hook runs or reads; never a directory
                        found.append(cand)
                        break
    return found


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
                if p is not None:
                    found.append(p)
                    found.extend(hook_dirs_extra(p, worktree))
            elif key == "include.path" or (key.startswith("includeif.") and key.endswith(".path")):
                p = norm(cfg.parent, value)
                if p is not None:
                    found.append(p)
                    read(p, depth + 1)
            elif _COMMAND_KEYS.match(key):
                for w in _named_files(value, worktree):
                    q = norm(worktree, w)
                    if q is not None and not (q.exists() and q.is_dir()):
                        found.append(q)  # a program or a file it reads; a directory word is an argument

    for name in ("config", "config.worktree"):
        read(git_dir / name, 0)
    found.extend(hook_dirs_extra(git_dir / "hooks", worktree))
    # git dirs kept inside this one (deinitialised submodules, linked worktrees' admin dirs): what
    # their config names, and the files git reads there, so a restore puts each back
    for sub in _inner_git_dirs(git_dir):
        found.extend(sub / n for n in ("config", "config.worktree", "hooks", "commondir", "gitdir", "info"))
        for name in ("config", "config.worktree"):
            read(sub / name, 0)
    commondir = git_dir / "commondir"
    if commondir.is_file():
        try:
            common = norm(git_dir, commondir.read_text(encoding="utf-8", errors="replace").strip())
        except OSError:
            common = None
        if common is not None:
            found.append(common)
            read(common / "config", 0)
    above = {worktree, *worktree.parents}  # never the worktree or a directory above it
    return [p for p in dict.fromkeys(found) if p not in above]


def _inner_git_dirs(git_dir: Path, limit: int = 512) -> list[Path]:
    """Git directories under ``git_dir/modules`` (any depth) and ``git_dir/worktrees``."""
    out: list[Path] = []
    wt = git_dir / "worktrees"
    if wt.is_dir():
        out.extend(p for p in sorted(wt.iterdir())[:limit] if p.is_dir())
    todo = [git_dir / "modules"]
    while todo and len(out) < limit:
        d = todo.pop()
        try:
            kids = [Path(e.path) for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for k in kids:
            if (k / "HEAD").is_file() and (k / "config").is_file():
                out.append(k)
                todo.append(k / "modules")
            else:
                todo.append(k)
    return out


def is_bare_repo(d: Path, dirnames: list[str], filenames: list[str]) -> bool:
    """A bare repository (``git init --bare``): its hooks run on a push to it from the host."""
    return "HEAD" in filenames and "config" in filenames and "objects" in dirnames and "refs" in dirnames
