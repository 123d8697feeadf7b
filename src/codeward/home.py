"""Where codeward keeps its own files: ``$CODEWARD_HOME`` (default ``~/.codeward``)."""

from __future__ import annotations

import os
from pathlib import Path


def codeward_home() -> Path:
    """The home directory; not created here, so read-only commands never write to disk."""
    env = os.environ.get("CODEWARD_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path.home() / ".codeward"


HOME_RULE_SOURCE = "codeward home"


def home_patterns(root: Path, home: Path) -> list[str]:
    """Ignore patterns (anchored at ``root``) that hide codeward's home when it lies inside ``root``.

    The workspace may contain the home (``--workspace ~``, or ``$CODEWARD_HOME`` set inside a
    repository): its sessions, logs and keys must still never reach a tool, a command or a model.
    Both the home as written and as resolved are covered (a home reached through a symlink), and
    every place inside ``root`` where a mount shows the home again (:func:`home_mounts`), with
    gitignore's special characters escaped so the name matches only itself. Empty when the home is
    elsewhere (outside the workspace the tools refuse it and the sandbox hides it already).
    """
    out: list[str] = []
    real_root = root.resolve()
    for h in dict.fromkeys((home.absolute(), home.resolve(), *home_mounts(real_root, home))):
        for r in dict.fromkeys((root, real_root)):
            try:
                rel = h.relative_to(r).as_posix()
            except ValueError:
                continue
            if rel in ("", "."):
                continue  # the home is the workspace: refused when the project is opened
            pat = "/" + _escape(rel)
            for p in (pat + "/", pat):
                if p not in out:
                    out.append(p)
    return out


def home_mounts(root: Path, home: Path) -> list[Path]:
    """Where inside ``root`` a mount shows the home again (``mount --bind ~/.codeward repo/mnt``, a
    mount of a directory above it, or of one of its own directories), found by identity: a mount
    point under ``root`` that *is* the home, one of its directories (:func:`home_identities`), or one
    of the directories holding it whose path down to the home leads to the home itself (same device
    and inode). A bind mount is the only way a directory gets a second path."""
    try:
        real = home.resolve()
        want = os.stat(real)
    except OSError:
        return []
    above: dict[tuple[int, int], Path] = {}
    for a in (real, *real.parents):
        try:
            st = os.stat(a)
        except OSError:
            continue
        above.setdefault((st.st_dev, st.st_ino), a)
    inside = home_identities(real) - {(want.st_dev, want.st_ino)}
    out: list[Path] = []
    for m in mount_points():
        if m != root and root not in m.parents:
            continue
        try:
            st = os.stat(m)
        except OSError:
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in inside:
            if m not in out:
                out.append(m)  # a part of the home (``sessions/``) mounted on its own
            continue
        holder = above.get(ident)
        if holder is None:
            continue
        p = m / real.relative_to(holder)
        try:
            st = os.stat(p)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino) and p not in out:
            out.append(p)
    return out


HOME_DEPTH = 2  # the home's own directories (sessions/, logs/, cache/ and one level below) count as it


def home_identities(home: Path) -> frozenset[tuple[int, int]]:
    """``(dev, inode)`` of the home and of its directories down to :data:`HOME_DEPTH` (links not
    followed): each of them shown elsewhere is a piece of the home."""
    out: set[tuple[int, int]] = set()
    level = [str(home)]
    for depth in range(HOME_DEPTH + 1):
        below: list[str] = []
        for d in level:
            try:
                st = os.stat(d) if depth == 0 else os.lstat(d)
            except OSError:
                continue
            out.add((st.st_dev, st.st_ino))
            if depth < HOME_DEPTH:
                try:
                    with os.scandir(d) as it:
                        below += [e.path for e in it if e.is_dir(follow_symlinks=False)]
                except OSError:
                    continue
        level = below
    return frozenset(out)


def mount_points() -> list[Path]:
    """Every mount point of this process's mount namespace (``/proc/self/mountinfo``; none elsewhere)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out: list[Path] = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            out.append(Path(_unoctal(fields[4])))
    return out


def _unoctal(s: str) -> str:
    """The kernel writes space, tab, newline and backslash in a mountinfo path as ``\\ooo``."""
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and s[i + 1 : i + 4].isdigit() and len(s[i + 1 : i + 4]) == 3:
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _escape(rel: str) -> str:
    """``rel`` as a gitignore pattern matching only that path (wildcards, a trailing space escaped)."""
    s = "".join("\\" + c if c in "\\*?[" else c for c in rel)
    return s[:-1] + "\\ " if s.endswith(" ") else s


def user_config_path() -> Path:
    return codeward_home() / "config.toml"


def ensure_home(home: Path) -> bool:
    """Create codeward's home (0700) if it does not exist yet; True when it exists afterwards.

    Done before any command runs: a home that does not exist cannot be hidden from a command, which
    could then create it with its own ``ignore`` rules or config for the next run to trust."""
    try:
        ensure_private_dir(home)
    except OSError:
        return False
    return home.is_dir()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 where it does not exist yet."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
