"""The secret values of the workspace's files, learned before a command's output is redacted.

A command reads files the gate never sees and may transform what it read (``rev .env.local``) so
that no rule recognises the output. The gate therefore has to know the values first: before each
request leaves, :meth:`WorkspaceSecrets.refresh` walks the workspace, scans every file that is new
or changed since the last walk (identity: size, mtime, inode, ctime), and reports the values of the
findings, which the redactor then tracks in all their encodings (:mod:`codeward.privacy.known`).

Every file is scanned, ignored ones included: their secrets are the most sensitive, and a tier
that cannot mask them still lets a command read them. That includes the text files of every ``.git``
directory, at the root or deeper (``config`` with a token in a remote URL or the ``extraheader``
that CI checkouts write, ``packed-refs``, ``FETCH_HEAD``, ``logs/``, ``info/``, ``modules/*/config``,
a hard link to a secret file put there): a command reads them like any other file, so they must be
shown redacted too. Only a git directory's object store (``objects/``, ``lfs/``) and its binary
index are skipped: the blobs they hold or name are the history scan's (:mod:`codeward.privacy.history`).
Symlinks are skipped (their target is walked where it lives, if inside), and so are text files over
:data:`MAX_FILE_BYTES`. A binary file is scanned on what a command could read out of it
(:mod:`codeward.privacy.contents`: its strings, a gzip or zip archive's members); text in UTF-16 or
UTF-32 is decoded first. A value stays known after the file that held it changes: a secret once
present remains a secret.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import stat
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# the walk lives in its own module; imported under these names, which tests patch on this module
from codeward.privacy.walk import _dirs, _walk

if TYPE_CHECKING:
    from codeward.privacy.names import NameBatch

MAX_FILE_BYTES = 8 << 20
MAX_BINARY_BYTES = 256 << 20
"""A binary file is read as its printable strings up to this size (a venv's largest libraries are
about 100 MB); a larger one is not scanned and counts as holding secrets (hidden from commands)."""
BINARY_SNIFF = 8192
MIN_BINARY_VALUE = 16
MIN_NAME_VALUE = 16
"""A known value shorter than this found in a name does not hide its directory: rules take
``postgres`` from ``POSTGRES_PASSWORD=postgres`` and ``development`` from ``password: development``,
and a ``postgres/`` or ``development/`` directory is no secret (a rule's finding in a name hides
whatever its length)."""
CACHE_VERSION = 3
"""Of the clean-file cache. Version 1 recorded binaries as clean without reading them (they were
skipped), version 2 recorded xz, bzip2, tar, nested zip and PDF files clean without unpacking them
and files clean without reading their extended attributes: their entries are not reused."""
NAMES_PATH = "<names>"
"""The path the scanner is given for a batch of file names, link targets and attributes."""


class WorkspaceSecrets:
    """Scans the files under ``root`` incrementally and hands back newly seen secret values."""

    def __init__(self, root: Path, scanner: Any, *, background: bool = False, cache_dir: Path | None = None) -> None:
        """``background`` starts the first (full) walk in a thread at once, so that a large
        repository is being scanned while the user types and the first request is answered; the
        first :meth:`refresh` waits for it.

        ``cache_dir`` (the codeward home's ``cache/``) keeps, between sessions, the identity of the
        files the first walk found *clean* (never a value, nor which files hold secrets): a file
        whose size, mtime, inode and ctime are unchanged, under the same rules, is not read again.
        Files with findings are always rescanned, so their values are learned afresh."""
        self.root = Path(root)
        self.scanner = scanner
        self._cache_file = _cache_file(cache_dir, self.root, scanner) if cache_dir is not None else None
        self._clean: dict[str, list[int]] = _load_clean(self._cache_file)
        self._stamps: dict[str, tuple[int, int, int, int]] = {}
        self._secret_paths: set[str] = set()
        self.unscannable: dict[str, str] = {}
        self._dir_stamps: dict[str, tuple[int, int, int, int]] = {}
        self._stamps_other: dict[str, tuple[int, int, int, int]] = {}
        self._name_hidden: set[str] = set()
        """Directories listing an entry whose name or link target holds a secret."""
        self._xattr_hidden: set[str] = set()
        """Entries whose ``user.*`` extended attributes hold a secret."""
        self._xattr_texts: dict[str, str] = {}
        """The ``user.*`` attributes of the entries that have any, as the last walk read them (for the sweep)."""
        """Files counted as holding a secret because they could not be scanned, and why (for notes)."""
        self.files_scanned = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: threading.Thread | None = None
        self._swept: set[str] = set()
        """Values every file has been checked for (in all their encodings) by a sweep."""
        self._sweep_lock = threading.Lock()
        self.known_finder: Callable[[str], list[Any]] | None = None
        """Set by the redactor: finds the session's known values in any encoding. A file that changes
        after the first walk and holds one (a command's ``rev`` or ``base32`` copy of a secret file)
        counts as holding a secret, so the grep tool searches it redacted too."""
        self._walked = False
        self._stop = threading.Event()
        if background:
            self._thread = threading.Thread(target=self._first_walk, name="codeward-learn", daemon=True)
            _running.add(self)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the background walk early and wait for it: a thread still inside the scanner's C++
        code when the interpreter exits aborts the whole process (exit 134)."""
        self._stop.set()
        for thread in (self._thread, self._sweeper):
            if thread is not None:
                thread.join(timeout)
        _running.discard(self)

    def _first_walk(self) -> None:
        try:
            self._pending = self._refresh()
            self._save_clean()
            self._start_sweep(self._pending)
        except BaseException as e:  # reported (and the request refused) by the next refresh()
            self._error = e

    def _save_clean(self) -> None:
        if self._cache_file is None:
            return
        clean = {p: list(st) for p, st in self._stamps.items() if p not in self._secret_paths}
        try:
            self._cache_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self._cache_file.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"version": CACHE_VERSION, "clean": clean}, f)
            os.replace(tmp, self._cache_file)
        except OSError:
            pass  # a cache only saves time

    def paths(self) -> list[str]:
        """Absolute paths of every regular file seen at the last :meth:`refresh`."""
        return list(self._stamps)

    def secret_paths(self) -> set[str]:
        """Absolute paths of the files that held a finding at the last :meth:`refresh`."""
        return set(self._secret_paths)

    def wait(self) -> bool:
        """Wait for the first walk (started in the background) without walking again; True when a
        walk has finished without error, so that :meth:`secret_paths` covers every file it saw."""
        thread = self._thread
        if thread is not None:
            thread.join()
        return self._walked and self._error is None

    def refresh(self) -> list[tuple[str, str]]:
        """``(value, rule)`` for every finding in a file that is new or changed since the last call."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                err, self._error = self._error, None
                raise err
        with self._lock:
            out, self._pending = self._pending, []
            first = not self._walked
            found = self._refresh()
            if first:
                self._save_clean()  # a walk done here (not in the background) is cached the same way
                self._start_sweep(found)
            out.extend(found)
            return out

    def changed_files(self) -> list[str]:
        """Files new or changed since the last walk, without reading or recording them (what a
        command just wrote, when its output cannot be trusted)."""
        with self._lock:
            return [
                path
                for path, st in _walk(self.root)
                if self._stamps.get(path) != (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
            ]

    def mark_secret(self, path: str) -> None:
        """Count ``path`` among the files holding a secret until it changes: a tool redacted a value
        in it (one the session learned after the file was scanned). Searched redacted from now on."""
        if path in self._stamps:
            self._secret_paths.add(path)

    def wait_sweep(self) -> None:
        """Wait for the sweep that follows the first walk (see :meth:`_sweep`), if one runs."""
        self.wait()
        sweeper = self._sweeper
        if sweeper is not None:
            sweeper.join()

    def sweep(self, values: Iterable[tuple[str, str]]) -> None:
        """Mark, now, the files holding any of ``values`` not swept for yet (a configured key, a
        secret from the prompt, a value from a file changed since the first walk, each of which may
        sit encoded in a file that has not changed since it was scanned)."""
        self.wait_sweep()
        new = [(v, r) for v, r in values if v not in self._swept]
        if new:
            self._sweep(new)

    def _start_sweep(self, values: list[tuple[str, str]]) -> None:
        """The sweep after the first walk runs in its own thread: reading every file again with the
        values' encodings costs a few times the walk (14 s for a copy of CPython's standard library
        with 19 values), and nothing but the grep tool's slow path needs it, so the first request
        does not wait. It includes the values the redactor knew already (configured keys)."""
        values = [*values, *self._finder_values()]
        if not values or self._stop.is_set():
            return
        self._sweeper = threading.Thread(target=self._sweep, args=(values,), name="codeward-learn-sweep", daemon=True)
        _running.add(self)
        self._sweeper.start()

    def _finder_values(self) -> list[tuple[str, str]]:
        """The ``(value, rule)`` pairs behind :attr:`known_finder` (the redactor's known values)."""
        owner = getattr(self.known_finder, "__self__", None)
        values = getattr(owner, "_values", None)
        return list(dict(values).items()) if isinstance(values, dict) else []

    def _sweep(self, values: list[tuple[str, str]]) -> None:
        """Mark the files holding one of ``values`` in an encoded or reversed form (a Kubernetes
        Secret's base64 beside the ``.env`` it copies): a walk scanned them before the value was
        known, and their redacted text differs from the raw one all the same. Every file is read
        again; a file that changes meanwhile is rescanned by the next refresh (a mark left here
        only makes grep search it redacted)."""
        from codeward.privacy.known import KnownValues

        known = KnownValues()
        known.add_all(values)
        with self._sweep_lock:
            for path, stamp in list(self._stamps.items()):
                if self._stop.is_set():
                    return  # not recorded as swept
                if path in self._secret_paths or stamp[0] == 0:
                    continue
                try:
                    got: tuple[Iterable[str], bool] | str = _texts(path, stamp[0])
                except OSError as e:
                    got = f"unreadable ({e.strerror})"
                if isinstance(got, str) or any(_counts(known.find(t), got[1]) for t in got[0]):
                    self._secret_paths.add(path)  # holds a value, or unreadable now (fail closed)
            if not self._sweep_names(known.find):
                return
            self._swept.update(v for v, _ in values)

    def _sweep_names(self, find: Callable[[str], list[Any]]) -> bool:
        """The sweep's part for names, link targets and attributes (a file named after the value a
        ``.env`` holds); False when stopped."""
        from codeward.privacy.names import NameBatch, scan_batch

        names = NameBatch()
        for d, _st, entries in _dirs(self.root):
            if self._stop.is_set():
                return False
            names.add_directory(d, ((name, stat.S_ISLNK(st.st_mode)) for _p, name, st in entries))
        for path, text in list(self._xattr_texts.items()):  # as the last walk read them
            names.add_text(text, "xattr:" + path)
        _, hide = scan_batch(names, lambda text: [], find, _name_counts)
        self._mark_hidden(hide)
        return True

    def _refresh(self) -> list[tuple[str, str]]:
        from codeward.privacy.names import NameBatch

        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        seen_dirs: set[str] = set()
        seen_other: set[str] = set()
        names = NameBatch()
        for d, d_st, entries in _dirs(self.root):
            if self._stop.is_set():
                break
            seen_dirs.add(d)
            dstamp = _stamp(d_st) if d_st is not None else None
            if dstamp is None or self._dir_stamps.get(d) != dstamp:
                # its entries were added, removed or renamed, or its own attributes changed
                if dstamp is not None:
                    self._dir_stamps[d] = dstamp
                self._name_hidden.discard(d)
                self._xattr_hidden.discard(d)
                names.add_directory(d, ((name, stat.S_ISLNK(st.st_mode)) for _p, name, st in entries))
                self._add_xattrs(names, d)
            for path, _name, st in entries:
                if stat.S_ISDIR(st.st_mode):
                    continue  # its own attributes are read when it is walked
                if not stat.S_ISREG(st.st_mode):
                    seen_other.add(path)
                    if self._stamps_other.get(path) != _stamp(st):
                        self._stamps_other[path] = _stamp(st)
                        self._xattr_hidden.discard(path)
                        self._add_xattrs(names, path)
                    continue
                seen.add(path)
                stamp = _stamp(st)
                if self._stamps.get(path) == stamp:
                    continue
                self._stamps[path] = stamp
                self._secret_paths.discard(path)
                self._xattr_hidden.discard(path)
                self.unscannable.pop(path, None)
                self._add_xattrs(names, path)
                if not self._walked and self._clean.get(path) == list(stamp):
                    continue  # clean under the same rules in an earlier session, and unchanged since
                if st.st_size == 0:
                    continue
                try:
                    got = _texts(path, st.st_size)
                except OSError as e:
                    got = f"unreadable ({e.strerror})"
                if isinstance(got, str):
                    self._secret_paths.add(path)  # not scanned: treated as holding secrets (fail closed)
                    self.unscannable[path] = got
                    continue
                texts, binary = got
                rel = os.path.relpath(path, self.root)
                self.files_scanned += 1
                held = False
                for text in texts:
                    found = [f for f in self.scanner.scan(text, path=rel) if _counts([text[f.start : f.end]], binary)]
                    if found or (
                        self._walked and self.known_finder is not None and _counts(self.known_finder(text), binary)
                    ):
                        held = True
                    for f in found:
                        out.append((text[f.start : f.end], f.rule_id))
                if held:
                    self._secret_paths.add(path)
        out += self._scan_names(names)
        self._walked = True
        for gone in set(self._stamps) - seen:
            del self._stamps[gone]
            self._secret_paths.discard(gone)
            self.unscannable.pop(gone, None)
        for gone in set(self._stamps_other) - seen_other:
            del self._stamps_other[gone]
        for gone in set(self._dir_stamps) - seen_dirs:
            del self._dir_stamps[gone]
            self._name_hidden.discard(gone)
        for gone in [
            p for p in self._xattr_texts if not (p in self._stamps or p in self._stamps_other or p in self._dir_stamps)
        ]:
            del self._xattr_texts[gone]
            self._xattr_hidden.discard(gone)
        return out

    def _add_xattrs(self, names: NameBatch, path: str) -> None:
        from codeward.privacy.names import xattr_text

        text = xattr_text(path)
        if text:
            self._xattr_texts[path] = text
            names.add_text(text, "xattr:" + path)
        else:
            self._xattr_texts.pop(path, None)

    def _scan_names(self, names: NameBatch) -> list[tuple[str, str]]:
        """Scan the names, link targets and attributes collected by a walk (see :mod:`codeward.privacy.names`)."""
        from codeward.privacy.names import scan_batch

        if not names.lines:
            return []
        known = self.known_finder if self._walked else None
        values, hide = scan_batch(names, lambda text: self.scanner.scan(text, path=NAMES_PATH), known, _name_counts)
        self._mark_hidden(hide)
        return values

    def _mark_hidden(self, hide: Iterable[str]) -> None:
        for h in hide:
            if h.startswith("xattr:"):
                self._xattr_hidden.add(h[len("xattr:") :])
            else:
                self._name_hidden.add(h)

    def hidden_entries(self) -> set[str]:
        """Directories and entries to hide whole because a name, link target or attribute holds a
        secret (:mod:`codeward.privacy.names`); absolute paths, the workspace root among them when
        it is the one."""
        return self._name_hidden | self._xattr_hidden


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def _counts(hits: Iterable[Any], binary: bool) -> bool:
    """Whether ``hits`` (values, or known-value hits with a ``value``) make the file hold a secret.

    In a binary only a whole value of :data:`MIN_BINARY_VALUE` characters or more counts, not a
    part of one (a window, :mod:`codeward.privacy.known`): the file is hidden whole, and a short
    value (``password="hunter2"`` in the docs ``ruff`` embeds) or a part of a scanner's false
    positive (``X25519PrivateKey`` of ``x25519.X25519PrivateKey`` in cryptography's sources, inside
    its ``_rust.abi3.so``) would hide the libraries of a venv."""
    for h in hits:
        if isinstance(h, str):
            value, whole = h, True
        else:
            value = str(getattr(h, "value", ""))
            whole = getattr(h, "end", 0) - getattr(h, "start", 0) >= len(value)
        if not binary or (whole and len(value) >= MIN_BINARY_VALUE):
            return True
    return False


def _name_counts(hits: Iterable[Any]) -> bool:
    """Whether known-value ``hits`` in names count: a whole value of :data:`MIN_NAME_VALUE`
    characters or more (not a 16-character window of a longer one: ``X25519PrivateKey`` is a
    module name in a venv as well as a part of a scanner finding in its sources)."""
    for h in hits:
        value = str(getattr(h, "value", h))
        whole = isinstance(h, str) or getattr(h, "end", 0) - getattr(h, "start", 0) >= len(value)
        if whole and len(value) >= MIN_NAME_VALUE:
            return True
    return False


def _texts(path: str, size: int) -> tuple[Iterable[str], bool] | str:
    """What the scanner reads of the file (:mod:`codeward.privacy.contents`), or why it cannot be
    scanned (text over :data:`MAX_FILE_BYTES`, a binary over :data:`MAX_BINARY_BYTES`, an archive
    over the unpacking budget, damaged or in a format with no reader). A large binary is read as
    its strings a block at a time, lazily."""
    from codeward.privacy.contents import contents, streamed_strings
    from codeward.privacy.unpack import kind
    from codeward.textenc import detect

    f = open(path, "rb")  # noqa: SIM115 - closed below, or by the generator that streams it
    try:
        data = f.read(MAX_FILE_BYTES + 1 if size <= MAX_FILE_BYTES else BINARY_SNIFF)
        if len(data) <= MAX_FILE_BYTES and size <= MAX_FILE_BYTES:
            f.close()
            c = contents(data)
            return (c.texts, c.binary) if c.unscannable is None else c.unscannable
        if size > MAX_BINARY_BYTES:
            f.close()
            return f"larger than {MAX_BINARY_BYTES >> 20} MiB"
        if detect(data[:BINARY_SNIFF]) is not None:
            f.close()
            return f"text larger than {MAX_FILE_BYTES >> 20} MiB"
        if kind(data[:BINARY_SNIFF]) not in (None, "pdf", "zip-appended"):  # (known by their start only)
            f.close()  # its payload would be over the unpacking budget anyway
            return f"a {kind(data[:BINARY_SNIFF])} file larger than {MAX_FILE_BYTES >> 20} MiB"
        f.seek(0)
    except BaseException:
        f.close()
        raise

    def stream() -> Iterator[str]:
        with f:
            yield from streamed_strings(f, MAX_BINARY_BYTES)

    return stream(), True


def _cache_file(cache_dir: Path, root: Path, scanner: Any) -> Path:
    """One cache file per workspace and rule set: other rules may find what these did not."""
    from codeward import __version__

    h = hashlib.sha256(f"{__version__}\0{root.resolve()}".encode("utf-8", "surrogateescape"))
    for r in getattr(getattr(scanner, "ruleset", None), "rules", ()):
        h.update(f"\0{r.id}\0{r.regex_source}\0{r.origin}\0{r.keywords}\0{len(r.allowlists)}".encode())
    h.update(repr(getattr(scanner, "allowlist", ())).encode())
    h.update(repr(getattr(scanner, "redact_pii", False)).encode())
    return cache_dir / f"learn-{h.hexdigest()[:24]}.json"


_running: weakref.WeakSet[WorkspaceSecrets] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for learner in list(_running):
        learner.stop()


def _load_clean(path: Path | None) -> dict[str, list[int]]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    clean = data.get("clean") if isinstance(data, dict) and data.get("version") == CACHE_VERSION else None
    return clean if isinstance(clean, dict) else {}


def secret_paths_now(redactor: Any) -> set[str]:
    """The files a command must see redacted, brought up to date: what changed is rescanned, and the
    sweep that marks files holding a known value in a form no rule finds (``prod: <the .env's
    value>``) has covered every value known so far. One place for the agent's shell tool and
    ``codeward sandbox``; raises whatever the scan raises (the caller refuses the command)."""
    learner = redactor.learner
    redactor.refresh()
    sweep = getattr(learner, "sweep", None)
    if sweep is not None:
        sweep(redactor.known.items())
    hidden = getattr(learner, "hidden_entries", None)
    return set(learner.secret_paths()) | (hidden() if hidden is not None else set())
