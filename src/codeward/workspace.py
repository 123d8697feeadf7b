"""The workspace: its root, the paths inside it the agent may touch, and the ones it must not change.

Every tool that takes a path goes through :meth:`Workspace.resolve`, so ``..``, absolute paths and
symlinks cannot lead outside the root. Protected paths (DESIGN §3) are defined here once and used by
both the patch approval logic and the sandbox's read-only binds.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import cast

from codeward.dirindex import ALL, Dir, DirIndex, index_for
from codeward.errors import CodewardError, UsageError
from codeward.hostprog import guard, host_path, program

AGENTS_FILE = "AGENTS.md"
IGNORE_FILES = (".codewardignore", ".codexignore")
PROTECTED_DIRS = (".git", ".codeward")
# .gitmodules names the repositories git clones and the paths it treats as submodules
PROTECTED_NAMES = (AGENTS_FILE, *IGNORE_FILES, ".gitmodules")
# what the directory index records per directory (:mod:`codeward.dirindex`)
WATCHED_NAMES = frozenset((*PROTECTED_DIRS, *PROTECTED_NAMES))


class PathError(CodewardError):
    """A path a tool was given cannot be used (outside the workspace, through a symlink, ...)."""


def find_repo_root(cwd: Path) -> Path:
    """The nearest ancestor that is a repository (:func:`repo_root`); else ``cwd`` itself."""
    start = cwd.resolve()
    return repo_root(start) or start


def repo_root(cwd: Path) -> Path | None:
    """The nearest ancestor of ``cwd`` (resolved) that git itself would take as a repository's root,
    or None outside any repository (:func:`find_repository`)."""
    return find_repository(cwd).root


@dataclass(frozen=True)
class RepoSearch:
    """What the search for the enclosing repository found: its ``root``, or why there is none.

    ``refused`` names a ``.git`` that is a repository but is not the user's (git's safe.directory
    rule): the search stops there, as git's does, and says so instead of silently taking it."""

    root: Path | None
    refused: str | None = None


def find_repository(cwd: Path) -> RepoSearch:
    """The nearest ancestor holding a ``.git`` that is a real repository owned by the user.

    As git decides it: a ``.git`` that is not a repository (an empty directory, a stray file) is
    passed over and the search goes on upwards; a real one owned by someone else stops the search
    with no repository (anyone who can write ``/tmp`` could otherwise plant ``/tmp/.git`` and make
    every directory below it their workspace, with their AGENTS.md), unless the user's own git config
    lists it in ``safe.directory``, as git allows.
    """
    d = cwd.resolve()
    while True:
        dot = d / ".git"
        git_dir = _git_dir_of(dot)
        if git_dir is not None:
            owner = _foreign_owner(d, dot, git_dir)
            if owner is None or _listed_safe(d):
                return RepoSearch(d)
            return RepoSearch(
                None,
                f"{dot} is owned by uid {owner}, not by you: not taken as a repository (git's safe.directory rule)",
            )
        if d.parent == d:
            return RepoSearch(None)
        d = d.parent


def _git_dir_of(dot: Path) -> Path | None:
    """The git directory ``dot`` (a ``.git`` entry) stands for, when it is a repository git would open:
    a directory with ``HEAD`` and ``objects``/``refs`` (those of its ``commondir`` for a linked
    worktree), or a ``gitdir:`` file naming such a directory."""
    try:
        st = os.stat(dot)  # git follows a link named .git too; its owner and the target's are both checked
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        git_dir = dot.resolve()
    elif stat.S_ISREG(st.st_mode):
        target = git_pointer_target(dot)
        if target is None:
            return None
        git_dir = target
    else:
        return None
    return git_dir if _is_git_dir(git_dir) else None


def _is_git_dir(g: Path) -> bool:
    if not (g / "HEAD").is_file():
        return False
    common = g
    try:
        text = (g / "commondir").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    if text:
        common = Path(text) if os.path.isabs(text) else g / text
    return (common / "objects").is_dir() and (common / "refs").is_dir()


def _foreign_owner(root: Path, dot: Path, git_dir: Path) -> int | None:
    """The uid owning the worktree, its ``.git`` or the git directory when that is not the user
    (the current uid; as root also the ``sudo`` caller's, as git allows), else None."""
    ok = _own_uids()
    for p, follow in ((root, False), (dot, False), (git_dir, True)):
        try:
            uid = (os.stat if follow else os.lstat)(p).st_uid
        except OSError:
            return -1
        if uid not in ok:
            return uid
    return None


def _listed_safe(root: Path) -> bool:
    """True when the user's own git config (system or global, never a repository's) lists ``root`` in
    ``safe.directory``, as git reads it: ``*`` for every directory, ``PATH/*`` for those below PATH, an
    empty value forgets the entries before it. Asked only for a repository someone else owns."""
    guard(root)  # the candidate workspace: no git from a PATH entry inside it
    trusted = False
    for value in _safe_directories():
        if not value:
            trusted = False
        elif value == "*":
            trusted = True
        elif value.endswith("/*"):
            base = Path(value[:-2]).expanduser()
            trusted = trusted or (base.is_absolute() and (root == base.resolve() or base.resolve() in root.parents))
        else:
            p = Path(value).expanduser()
            trusted = trusted or (p.is_absolute() and p.resolve() == root)
    return trusted


def _safe_directories() -> list[str]:
    import subprocess

    env = {k: v for k, v in os.environ.items() if k in ("HOME", "XDG_CONFIG_HOME")}
    env["PATH"] = host_path()
    out: list[str] = []
    for scope in ("--system", "--global"):
        try:
            r = subprocess.run(
                [program("git") or "git", "config", scope, "--includes", "--get-all", "safe.directory"],
                cwd="/",
                env=env,
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0:
            out += r.stdout.splitlines()
    return out


def _own_uids() -> frozenset[int]:
    uid = os.geteuid()
    if uid == 0:
        sudo = os.environ.get("SUDO_UID", "")
        if sudo.isdigit():
            return frozenset((0, int(sudo)))
    return frozenset((uid,))


class WorkspaceNotChosen(UsageError):
    """The directory codeward was started in is not one it may take as a workspace without being told.

    ``askable`` is True when the interactive session may ask the user (an ordinary directory that
    is not in a repository); False for ``$HOME`` and ``/``, which only the explicit flag allows.
    """

    def __init__(self, message: str, candidate: Path, *, askable: bool) -> None:
        super().__init__(message)
        self.candidate = candidate
        self.askable = askable


def user_homes(user_home: Path | None = None) -> tuple[Path, ...]:
    """The home directories a workspace must not be (nor hold): ``user_home`` if given, ``$HOME`` and
    the account's passwd entry (they differ under ``sudo`` or a changed ``$HOME``), resolved.

    As root (``sudo`` included) every login account's home counts too (uid >= 1000 in the passwd
    database, and ``$SUDO_USER``'s): root can read them all, so ``-C /home/alice`` is as wide as
    ``-C ~``."""
    found: set[Path] = set()
    for h in (user_home, _env_home(), _passwd_home(), *(_login_homes() if os.geteuid() == 0 else ())):
        if h is not None and h.is_absolute():
            found.add(h.resolve())
    return tuple(sorted(found))


def too_wide(d: Path, homes: tuple[Path, ...]) -> bool:
    """True for ``/``, a home directory and any directory holding one (``/home``): never a workspace
    without ``--workspace``, since they hold every project, the shell's start-up files and codeward's home.

    Compared by identity (device and inode), not by name: the home reached through a bind mount
    or another mount of its file system is still the home."""
    return d == Path("/") or _identity(d) in _wide_identities(homes)


def is_home(d: Path, homes: tuple[Path, ...]) -> bool:
    """True when ``d`` is one of ``homes`` (by identity, as :func:`too_wide`)."""
    ident = _identity(d)
    return ident is not None and ident in {_identity(h) for h in homes}


def _identity(p: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(p)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _wide_identities(homes: tuple[Path, ...]) -> frozenset[tuple[int, int]]:
    """The identities of every home and of each directory above one."""
    out: set[tuple[int, int]] = set()
    for h in homes:
        for p in (h, *h.parents):
            ident = _identity(p)
            if ident is not None:
                out.add(ident)
    return frozenset(out)


def _login_homes() -> list[Path]:
    """Homes of the login accounts (uid >= 1000, not ``nobody``) and of ``$SUDO_USER``."""
    try:
        import pwd
    except ImportError:
        return []
    out: list[Path] = []
    sudo_user = os.environ.get("SUDO_USER")
    try:
        entries = pwd.getpwall()
    except OSError:
        entries = []
    for e in entries:
        if (1000 <= e.pw_uid < 65534 or e.pw_name == sudo_user) and e.pw_dir:
            out.append(Path(e.pw_dir))
    return out


def _env_home() -> Path | None:
    try:
        return Path.home()
    except RuntimeError:  # no $HOME and no passwd entry
        return None


def _passwd_home() -> Path | None:
    try:
        import pwd

        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError, OSError):
        return None


def choose_root(cwd: Path, *, named: bool = False, explicit: bool = False, user_home: Path | None = None) -> Path:
    """The workspace root for a run started in ``cwd``, or :class:`WorkspaceNotChosen`.

    * Inside a git repository whose root is neither ``$HOME`` nor ``/``: that root, as always.
    * Otherwise (no repository, or a dotfiles repository rooted at ``$HOME``, above it or at ``/``): ``cwd``
      itself, but only when the user named it: ``-C DIR`` (``named``) or ``--workspace DIR`` /
      a yes at the session's question (``explicit``). Nothing else silently makes the current
      directory a workspace, so starting codeward in ``~/Downloads`` cannot expose its files.
    * ``$HOME``, ``/`` and directories holding a home (``/home``) are a workspace only with
      ``explicit``: ``-C ~`` is not enough, since the home holds every other project, the shell's
      start-up files and codeward's own home (:func:`too_wide`).
    """
    cwd = cwd.resolve()
    homes = user_homes(user_home)
    search = find_repository(cwd)
    repo = search.root
    if repo is not None and not too_wide(repo, homes):
        return repo
    if explicit:
        return cwd
    if too_wide(cwd, homes):
        what = (
            "the root directory"
            if cwd == Path("/")
            else ("your home directory" if is_home(cwd, homes) else "a directory holding your home")
        )
        raise WorkspaceNotChosen(
            f"{cwd} is {what}, never a workspace by default: pass --workspace {cwd} to work there anyway, "
            "or run codeward in (or with -C) a project directory",
            cwd,
            askable=False,
        )
    if named:
        return cwd
    if repo is not None:
        where = "is in a repository rooted at " + str(repo)
    elif search.refused is not None:
        where = f"is not in a git repository ({search.refused})"
    else:
        where = "is not in a git repository"
    raise WorkspaceNotChosen(
        f"{cwd} {where}: pass -C {cwd} (or --workspace {cwd}) to use this directory as the workspace, "
        "or run codeward inside a repository",
        cwd,
        askable=True,
    )


def is_protected(rel: str | PurePosixPath, *, casefold: bool = False) -> bool:
    """True for paths that ask for approval before any change and are read-only to commands.

    ``casefold`` compares names without case, for a file system that folds it (where
    ``.GIT/hooks/pre-commit`` *is* ``.git/hooks/pre-commit``)."""
    parts = PurePosixPath(rel).parts
    dirs: tuple[str, ...] = PROTECTED_DIRS
    names: tuple[str, ...] = PROTECTED_NAMES
    if casefold:
        parts = tuple(p.lower() for p in parts)
        dirs, names = tuple(d.lower() for d in dirs), tuple(n.lower() for n in names)
    if any(p in dirs for p in parts):
        return True
    return bool(parts) and parts[-1] in names


@dataclass(frozen=True)
class Workspace:
    """A repository (or directory) root plus the directory the user started in."""

    root: Path
    cwd: Path

    @classmethod
    def discover(cls, cwd: Path, *, named: bool = False, explicit: bool = False) -> Workspace:
        """The workspace for a run in ``cwd`` (:func:`choose_root` decides; raises WorkspaceNotChosen)."""
        cwd = cwd.resolve()
        return cls(root=choose_root(cwd, named=named, explicit=explicit), cwd=cwd)

    def rel(self, path: Path) -> str:
        """Workspace-relative POSIX form of an absolute path inside the root."""
        r = path.relative_to(self.root).as_posix()
        return "" if r == "." else r

    def resolve(self, path: str, *, base: Path | None = None, must_exist: bool = False) -> Path:
        """Map a tool's path argument to an absolute path inside the root, or raise PathError.

        Relative paths are taken from ``base`` (default: the cwd). Symlinks are followed for the
        check, so a link inside the workspace that points outside is refused. The returned path is
        the lexical one (not resolved), so the caller still sees names, not link targets.
        """
        if not isinstance(path, str) or not path.strip():
            raise PathError("path must be a non-empty string")
        if "\x00" in path:
            raise PathError(f"{path!r}: path contains a NUL byte")
        p = Path(path)
        if not p.is_absolute():
            p = (base or self.cwd) / p
        lexical = Path(os.path.normpath(p))
        root = self.root
        if lexical != root and root not in lexical.parents:
            raise PathError(f"{path}: outside the workspace {root}; use a path inside it")
        real = _resolve_existing_prefix(lexical)
        real_root = root.resolve()
        if real != real_root and real_root not in real.parents:
            raise PathError(f"{path}: a symlink leads outside the workspace ({real}); refused")
        if must_exist and not lexical.exists():
            raise PathError(f"{path}: no such file or directory")
        return lexical

    def agents_files(self, home: Path, *, enclosing: bool = False) -> list[Path]:
        """AGENTS.md files in instruction order: the global one, then root down to the cwd.

        With ``enclosing`` (for the policy, not the instructions), first those of the enclosing
        projects above the root (:func:`enclosing_project_dirs`), outermost first: a project's
        ``disallow_directories`` and command rules keep holding in a repository nested inside it.
        """
        files: list[Path] = []
        g = home / AGENTS_FILE
        if g.is_file():
            files.append(g)
        chain = [self.cwd, *self.cwd.parents]
        dirs = [d for d in chain if d == self.root or self.root in d.parents]
        if enclosing:
            dirs += list(reversed(enclosing_project_dirs(self.root)))
        for d in reversed(dirs):
            f = d / AGENTS_FILE
            if f.is_file():
                files.append(f)
        return files

    def protected_paths(self, *, refresh: bool = True) -> Iterator[Path]:
        """Every protected path that exists under the root, plus the root-level ones that do not.

        Missing root-level names are included so the sandbox can stop a command from creating
        them; a ``.git`` pointer file also yields the directory it names, and every git directory
        yields what its config makes git run or read inside the root (``core.hooksPath``,
        included files, programs named by path: :mod:`codeward.gitfiles`), existing or not.
        Read from the workspace's directory index (:func:`dir_index`), refreshed first unless the
        caller just did (``refresh=False``).
        """
        from codeward.gitfiles import git_config_paths

        index = dir_index(self.root)
        if refresh:
            index.refresh()
        found: list[Path] = []
        git_dirs: list[tuple[Path, Path]] = []  # (git dir, the worktree it serves)
        for here, name, kind in _indexed_protected(index, self.root):
            p = here / name if name else here
            found.append(p)
            if kind == "git":
                git_dirs.append((p, here))
            elif kind == "bare":
                git_dirs.append((here, here))
            elif kind == "pointer":
                target = git_pointer_target(p)  # its content: read every time, no index follows it
                if target is not None:
                    git_dirs.append((target, here))
                    found.append(target)
        seen: set[Path] = set()
        for p in [*(self.root / n for n in (*PROTECTED_DIRS, *PROTECTED_NAMES)), *found]:
            if p not in seen:
                seen.add(p)
                yield p
        root = self.root.resolve()
        for git_dir, worktree in git_dirs:
            # outside the root too: an included file in a directory the user made writable
            # (``--writable``) must stay read-only; elsewhere the sandbox is read-only anyway
            for p in git_config_paths(git_dir, worktree):
                if p not in seen and p not in (self.root, root):
                    seen.add(p)
                    yield p


def _indexed_protected(index: DirIndex, root: Path) -> list[tuple[Path, str, str]]:
    """The protected names the index lists under ``root``, as ``(directory, name, kind)``: kind
    ``git`` (a ``.git`` directory), ``pointer`` (a ``.git`` file), ``bare`` (a bare repository below
    the root: the directory itself, name empty) or ``name`` (anything else protected). Worked out once
    per index generation: nothing in it depends on more than what the index lists."""
    key = ("protected", root)
    memo = index.memo.get(key)
    if memo is not None and memo[0] == index.generation:
        return cast("list[tuple[Path, str, str]]", memo[1])
    base = str(index.root)
    top = index.dirs.get(base)

    def skip(e: Dir) -> Collection[str]:
        # a bare repository below the root is a git dir: read-only whole, like .git, not entered
        return ALL if e.bare and e is not top else _PROTECTED_DIR_SET

    out: list[tuple[Path, str, str]] = []
    for d, e in index.walk(skip):
        if not (e.watched or (e.bare and d != base)):
            continue  # most directories: nothing to build a path for
        here = root / d[len(base) + 1 :] if d != base else root
        if d != base and e.bare:
            out.append((here, "", "bare"))
            continue
        out += [(here, n, "git" if n == ".git" else "name") for n in sorted(e.watched_dirs & _PROTECTED_DIR_SET)]
        out += [(here, n, "pointer" if n == ".git" else "name") for n in sorted(e.watched_files)]
    index.memo[key] = (index.generation, out)
    return out


def enclosing_project_dirs(root: Path) -> list[Path]:
    """The directories above ``root`` that belong to an enclosing project, outermost first.

    Every enclosing repository counts, not only the nearest: the walk goes up to the highest
    directory holding ``.git`` and takes every directory from there down to ``root``'s parent (so
    ``outer/``, ``outer/mid/``, ``outer/mid/vendor/`` for a workspace ``outer/mid/vendor/lib``). It
    stops below the user's home and ``/`` (:func:`too_wide`): a dotfiles repository at ``$HOME`` is
    no project (the user's own rules live in ``$CODEWARD_HOME``). Empty outside any repository.
    """
    homes = user_homes()
    chain: list[Path] = []
    outermost = -1
    d = root.parent
    while d != d.parent and not too_wide(d, homes):
        chain.append(d)
        if (d / ".git").exists():
            outermost = len(chain) - 1
        d = d.parent
    return list(reversed(chain[: outermost + 1]))


def dir_index(root: Path, cache_dir: Path | None = None) -> DirIndex:
    """The process's directory index of ``root`` (:mod:`codeward.dirindex`), shared by the ignore
    walk, the protected-path walk and the sandbox's census; ``cache_dir`` lets the first use in a
    process start from the index a previous one saved."""
    return index_for(root.resolve(), WATCHED_NAMES, cache_dir)


_PROTECTED_DIR_SET = frozenset(PROTECTED_DIRS)


def git_pointer_target(pointer: Path) -> Path | None:
    """The directory a ``.git`` pointer file names (``gitdir: PATH``), if it can be read."""
    try:
        text = pointer.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("gitdir:"):
            target = Path(line[len("gitdir:") :].strip())
            if not target.is_absolute():
                target = pointer.parent / target
            return Path(os.path.normpath(target))
    return None


def _resolve_existing_prefix(p: Path) -> Path:
    """Resolve symlinks in the longest existing prefix of ``p``; keep the rest lexically."""
    missing: list[str] = []
    cur = p
    while not cur.exists() and not cur.is_symlink():
        if cur.parent == cur:
            break
        missing.append(cur.name)
        cur = cur.parent
    real = cur.resolve()
    for name in reversed(missing):
        real = real / name
    return real
