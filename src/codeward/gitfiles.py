"""The files in a worktree that git executes or reads config from, named by a repository's own config.

``.git`` itself is protected by name; this finds what its config points at: ``core.hooksPath``
(``.husky``, ``.githooks``, lefthook's dirs), ``include.path`` / ``includeIf.*.path`` targets
(``../.gitconfig``), and programs named by path in command settings (``core.fsmonitor =
tools/watch.sh``, a filter or textconv script, an alias ``!./x.sh``). A command that could rewrite
one of them would choose what the user's next ``git status`` or ``git commit`` runs on the host,
so they are protected like ``.git``.

Not only the repository's own config counts: git reads the system file (``/etc/gitconfig`` or
``$GIT_CONFIG_SYSTEM``), the user's global files (``~/.gitconfig``, ``$XDG_CONFIG_HOME/git/config``
or ``$GIT_CONFIG_GLOBAL``) and ``GIT_CONFIG_COUNT``/``GIT_CONFIG_PARAMETERS`` settings for every
repository, and a relative ``core.hooksPath = .githooks`` there names a directory in *each*
worktree (:func:`user_config`). Those files are found by git's documented rules and by asking git
itself once per process (``git config --list --show-origin``, which runs nothing), so a build with
another compiled-in system path is covered too; their contents are read here, includes followed.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codeward.hostprog import host_path, program

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


def git_config_paths(git_dir: Path, worktree: Path, user: UserConfig | None = None) -> list[Path]:
    """Paths (absolute, normalised) that the config git reads for ``git_dir`` makes git run or read.

    ``worktree`` is where hooks run and relative commands start (the directory holding ``.git``).
    Included files are read in turn (relative to the file that includes them), up to a depth. The
    user's and the system's config (``user``, default :func:`user_config`) count like the
    repository's own: a relative path there is resolved in this worktree, and the files
    themselves are listed (``$GIT_CONFIG_GLOBAL`` may point into the workspace).
    """
    found: list[Path] = []
    seen: set[Path] = set()
    user = user_config() if user is None else user
    home = user.home

    def norm(base: Path, p: str) -> Path | None:
        if p.startswith("~/") and home is not None:
            p = str(home / p[2:])  # git expands ~/ in path settings (hooksPath, include.path)
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
        apply(parse_config(text), cfg.parent, depth)

    def apply(pairs: list[tuple[str, str]], base: Path, depth: int) -> None:
        for key, value in pairs:
            if key == "core.hookspath":
                p = norm(worktree, value)
                if p is not None:
                    found.append(p)
                    found.extend(hook_dirs_extra(p, worktree))
            elif key == "include.path" or (key.startswith("includeif.") and key.endswith(".path")):
                p = norm(base, value)
                if p is not None:
                    found.append(p)
                    read(p, depth + 1)
            elif _COMMAND_KEYS.match(key):
                for w in _named_files(value, worktree):
                    q = norm(worktree, w)
                    if q is not None and not (q.exists() and q.is_dir()):
                        found.append(q)  # a program or a file it reads; a directory word is an argument

    for f in user.files:
        found.append(f)
        read(f, 0)
    apply(list(user.settings), worktree, 0)  # GIT_CONFIG_COUNT / GIT_CONFIG_PARAMETERS settings
    for name in ("config", "config.worktree"):
        read(git_dir / name, 0)
    found.extend(hook_dirs_extra(git_dir / "hooks", worktree))
    # git dirs kept inside this one (deinitialised submodules, linked worktrees' admin dirs): what
    # their config names, and the files git reads there, so a restore puts each back
    for sub in inner_git_dirs(git_dir):
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


# variables that choose which config git reads; every other GIT_* (GIT_DIR, GIT_WORK_TREE) is dropped
_CONFIG_ENV = re.compile(r"^GIT_CONFIG_(GLOBAL|SYSTEM|NOSYSTEM|COUNT|KEY_\d+|VALUE_\d+|PARAMETERS)$")


@dataclass(frozen=True)
class UserConfig:
    """What git reads for every repository besides the repository's own config.

    ``files``: the system and global config files (absolute; existing or not: a command must not
    create one where the user's environment points); ``settings``: ``(key, value)`` pairs from the
    environment (``GIT_CONFIG_COUNT``, ``GIT_CONFIG_PARAMETERS``); ``home``: for ``~/`` in paths.
    """

    files: tuple[Path, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()
    home: Path | None = None


def user_config(env: Mapping[str, str] | None = None) -> UserConfig:
    """The system and global git config of this process's user (cached per environment).

    Found by git's documented rules (``GIT_CONFIG_SYSTEM``/``GIT_CONFIG_NOSYSTEM``,
    ``GIT_CONFIG_GLOBAL``, else ``~/.gitconfig`` and ``$XDG_CONFIG_HOME/git/config``), plus every
    file git itself reports reading outside a repository (a build's own system path).
    """
    env = os.environ if env is None else env
    key = tuple(sorted((k, v) for k, v in env.items() if _CONFIG_ENV.match(k) or k in ("HOME", "XDG_CONFIG_HOME")))
    return _user_config(key, env.get("PATH", os.defpath))


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=8)
def _user_config(key: tuple[tuple[str, str], ...], path: str) -> UserConfig:
    env = dict(key)
    home = Path(env["HOME"]) if env.get("HOME", "").startswith("/") else None
    files: list[Path] = []
    if not _truthy(env.get("GIT_CONFIG_NOSYSTEM")):
        files.append(Path(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"))
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(Path(env["GIT_CONFIG_GLOBAL"]))
    else:
        xdg = env.get("XDG_CONFIG_HOME", "")
        if xdg.startswith("/"):
            files.append(Path(xdg) / "git" / "config")
        elif home is not None:
            files.append(home / ".config" / "git" / "config")
        if home is not None:
            files.append(home / ".gitconfig")
    reported, settings = _ask_git({**env, "PATH": host_path(path)})
    files += reported
    # a relative $GIT_CONFIG_GLOBAL is read from the directory git runs in: the user's, taken as ours
    cwd = Path.cwd()
    absolute = (Path(os.path.normpath(f if f.is_absolute() else cwd / f)) for f in files)
    return UserConfig(tuple(dict.fromkeys(absolute)), tuple(settings), home)


def _ask_git(env: dict[str, str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(config files git reads outside any repository, settings it takes from the environment).

    ``git config --list`` reads config and runs nothing; it is started in an empty directory with a
    ceiling above it, so no repository's own config is among the answers. No git, no answer: the
    documented rules above still hold.
    """
    with tempfile.TemporaryDirectory(prefix="codeward-gitcfg-") as d:
        run_env = {**env, "GIT_CEILING_DIRECTORIES": str(Path(d).parent), "GIT_TERMINAL_PROMPT": "0"}
        try:
            out = subprocess.run(
                [program("git") or "git", "config", "--list", "--show-origin", "--show-scope", "-z"],
                cwd=d,
                env=run_env,
                capture_output=True,
                timeout=30,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return [], []
    files: list[Path] = []
    settings: list[tuple[str, str]] = []
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    for i in range(0, len(fields) - 2, 3):
        scope, origin, entry = fields[i : i + 3]
        name, _, value = entry.partition("\n")
        if origin.startswith("file:") and scope in ("system", "global"):
            files.append(Path(origin[len("file:") :]))  # relative only for a relative $GIT_CONFIG_*
        elif scope == "command":
            settings.append((name.lower(), value))
    return files, settings


def inner_git_dirs(git_dir: Path, limit: int = 512) -> list[Path]:
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


def linked_store(objects: Path, workspace: Path) -> Path | None:
    """Where a view of the store at ``objects`` must be bound: the directory itself, or, when it is
    a link (Android's ``repo`` links each project's store into ``.repo``), the directory it leads to
    if that lies in the workspace, where a command could otherwise read it through the link or by
    its own name (red team rt5). None when there is no directory, or it lies outside the workspace
    (as visible to commands as that place is: a home or other project is hidden whole)."""
    if not objects.is_symlink():
        return objects if objects.is_dir() else None
    target = objects.resolve()
    if not target.is_dir() or not (target == workspace or workspace in target.parents):
        return None
    return target
