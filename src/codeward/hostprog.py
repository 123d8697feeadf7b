"""Which program codeward itself runs on the host for a name, and the PATH those programs get.

codeward runs ``git``, ``find``, ``rg`` and a provider's ``key_command`` outside the sandbox. A
user who works in an activated virtual environment has ``<workspace>/.venv/bin`` (or
``node_modules/.bin``) first on ``PATH``, and commands may write there: a ``git`` or ``find`` a
command planted would then run unconfined, as the user, the next time codeward looked a name up
(red team rt17). So a name is looked up in the system directories first and then only in the
absolute ``PATH`` entries that lie outside every place a command may write: the workspace and the
extra writable directories (:func:`guard`, called when a run's workspace is chosen and its
sandbox spec made) and the temporary directories (which the Landlock tier shares with commands).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

SYSTEM_DIRS: tuple[str, ...] = ("/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin")
SHARED_TEMP: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")
_guarded: list[str] = []


def guard(*places: str | os.PathLike[str]) -> None:
    """Mark ``places`` (and everything below them) as written by commands: no program is taken
    from a ``PATH`` entry there."""
    for p in places:
        real = os.path.realpath(os.fspath(p))
        if real != "/" and real not in _guarded:
            _guarded.append(real)


def guarded(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (resolved) lies in a place :func:`guard` marked."""
    real = os.path.realpath(os.fspath(path))
    return any(real == g or real.startswith(g.rstrip("/") + "/") for g in _guarded)


def own_install_guarded() -> str | None:
    """The interpreter, environment or package directory of this codeward that lies in a guarded
    place, else None. codeward installed in the project's own venv (``pip install codeward`` into
    ``.venv``) runs code a command can rewrite: the next run would execute it unconfined (red team
    rt18), so commands are refused there."""
    import codeward

    for p in (sys.executable, sys.prefix, os.path.dirname(codeward.__file__)):
        if p and guarded(p):
            return os.path.realpath(p)
    return None


def host_path(path: str | None = None) -> str:
    """A ``PATH`` for codeward's own host programs: the system directories, then the absolute
    entries of ``path`` (default: this process's ``PATH``) outside every guarded place."""
    unsafe = [*_guarded, *{os.path.realpath(t) for t in (tempfile.gettempdir(), *SHARED_TEMP)}]
    entries: list[str] = list(SYSTEM_DIRS)
    for entry in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep):
        if not entry or not os.path.isabs(entry) or entry in entries:
            continue
        real = os.path.realpath(entry)
        if any(real == u or real.startswith(u.rstrip("/") + "/") for u in unsafe):
            continue
        entries.append(entry)
    return os.pathsep.join(entries)


def program(name: str) -> str | None:
    """The file codeward runs for ``name`` on the host (see the module's doc), or None. A name with a
    slash is the caller's own choice and is returned as it is."""
    if "/" in name:
        return name
    return shutil.which(name, path=host_path())
