"""The secret values of the workspace's files, learned before a command's output is redacted.

A command reads files the gate never sees and may transform what it read (``rev .env.local``) so
that no rule recognises the output. The gate therefore has to know the values first: before each
request leaves, :meth:`WorkspaceSecrets.refresh` walks the workspace, scans every entry that is new
or changed since the last walk (identity: type, device, inode, size, mtime, ctime; the walk is
:mod:`codeward.privacy.tree_walk`), and reports the values of the findings, which the redactor then
tracks in all their encodings (:mod:`codeward.privacy.known`). What is scanned of an entry: a
regular file's contents, and for every entry its name, a symlink's target and its ``user.*``
extended attributes (:mod:`codeward.privacy.names`; a hit hides the directory listing the entry, or
the entry holding the attribute, :meth:`WorkspaceSecrets.hidden_entries`). A new name appears only
with a new path, a target only with a new link, and an attribute moves the entry's ctime, so an
entry whose stamp is unchanged needs none of them read again.

Every file is scanned, ignored ones included: their secrets are the most sensitive, and a tier
that cannot mask them still lets a command read them. That includes the text files of every ``.git``
directory, at the root or deeper (``config`` with a token in a remote URL or the ``extraheader``
that CI checkouts write, ``packed-refs``, ``FETCH_HEAD``, ``logs/``, ``info/``, ``modules/*/config``,
a hard link to a secret file put there): a command reads them like any other file, so they must be
shown redacted too. Only a git directory's object store (``objects/``, ``lfs/``) and its binary
index are skipped: the blobs they hold or name are the history scan's (:mod:`codeward.privacy.history`).
Symlinks are not followed (their target is walked where it lives, if inside). A file that cannot
be scanned in full (text over :data:`MAX_FILE_BYTES`, a binary over :data:`MAX_BINARY_BYTES`, an
archive over the unpacking budget, damaged or in a format with no reader) counts as holding a
secret, with the reason in :attr:`WorkspaceSecrets.unscannable`. A binary file is scanned on what a
command could read out of it (:mod:`codeward.privacy.contents`: its strings in six encodings, the
members of gzip, xz, bzip2, zip, tar and PDF streams, nested); text in UTF-16 or UTF-32 is decoded
first. A value stays known after the file that held it changes: a secret once present remains a
secret.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.privacy import clean_cache, tree_walk
from codeward.privacy.learn_watch import BackgroundWalk, start_watch

if TYPE_CHECKING:
    from codeward.privacy.names import NameBatch
    from codeward.privacy.tree_watch import TreeWatch

MAX_FILE_BYTES = 8 << 20
MAX_BINARY_BYTES = 256 << 20
"""A binary file is read as its printable strings up to this size (a venv's largest libraries are
about 100 MB); a larger one is not scanned and counts as holding secrets (hidden from commands)."""
BINARY_SNIFF = 8192
MIN_BINARY_VALUE = 16
NAMES_PATH = "<names>"
"""The path the scanner is given for a batch of file names, link targets and attributes."""
XATTR = "xattr:"
"""Marks, in a name batch, the entry an attribute's hit hides (itself, not its directory)."""


class WorkspaceSecrets:
    """Scans the files under ``root`` incrementally and hands back newly seen secret values."""

    def __init__(
        self,
        root: Path,
        scanner: Any,
        *,
        background: bool = False,
        cache_dir: Path | None = None,
        prefetch: bool = False,
        watch: bool = False,
    ) -> None:
        """``background`` starts the first (full) walk in a thread at once, so that a large
        repository is being scanned while the user types and the first request is answered; the
        first :meth:`refresh` waits for it.

        ``cache_dir`` (the codeward home's ``cache/``) keeps, between sessions, the identity of the
        files the first walk found *clean* (never a value, nor which files hold secrets): a file
        whose device, inode, size, mtime and ctime are unchanged, under the same rules, is not read again.
        Files with findings are always rescanned, so their values are learned afresh
        (:mod:`codeward.privacy.clean_cache`).

        ``prefetch`` starts the first walk's file listing at once (a ``find`` process,
        :mod:`codeward.privacy.tree_walk`) without scanning, so that it runs beside whatever the
        caller does before its first :meth:`refresh` (``codeward sandbox`` builds the spec); that
        refresh then sees the tree as it was here. Only for a caller that changes nothing in
        between.

        ``watch`` (a session: many refreshes in one process) keeps an inotify watch on the tree
        after the first walk, so that later refreshes look only at what changed
        (:mod:`codeward.privacy.tree_watch`) instead of walking 200 000 entries each time."""
        self.root = Path(root)
        self._root = str(self.root)
        self.scanner = scanner
        self._early = tree_walk.Walk(str(self.root)) if prefetch and not background else None
        cache_file = cache_file_for(cache_dir, self.root, scanner) if cache_dir is not None else None
        binding = clean_cache.binding_of(self.root, cache_file.name if cache_file else "")
        self._cache = clean_cache.CleanCache(cache_dir, cache_file, binding)
        self._stamps: dict[str, str] = {}
        self._stamps_digest: str | None = None
        self.tree_generation = 0
        """Moves whenever a walk saw entries appear or disappear (what a cached listing depends on)."""
        self._secret_paths: set[str] = set()
        self.unscannable: dict[str, str] = {}
        """Files counted as holding a secret because they could not be scanned, and why (for notes)."""
        self._name_hits: set[str] = set()
        """Entries whose name or link target holds a secret: their directory is hidden."""
        self._xattr_hidden: set[str] = set()
        """Entries whose ``user.*`` extended attributes hold a secret: hidden themselves."""
        self._xattrs: dict[str, str] = {}
        """The ``user.*`` attributes of the entries read in this process at their current stamp
        (empty text: none), for the sweep; an entry the clean cache vouched for is read by the sweep."""
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
        self._linked_verdict: tuple[Any, dict[str, list[str]]] | None = None
        """The last :meth:`linked_outside` answer and what it was asked for."""
        self._watching = watch
        self.watch: TreeWatch | None = None
        self._background: BackgroundWalk | None = None
        self._stop = threading.Event()
        if background:
            self._thread = threading.Thread(target=self._first_walk, name="codeward-learn", daemon=True)
            _running.add(self)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the background walk early and wait for it: a thread still inside the scanner's C++
        code when the interpreter exits aborts the whole process (exit 134)."""
        self._stop.set()
        early, self._early = self._early, None
        if early is not None:
            early.cancel()
        for thread in (self._thread, self._sweeper):
            if thread is not None:
                thread.join(timeout)
        _running.discard(self)
        self._drop_background()
        watch, self.watch = self.watch, None
        if watch is not None:
            watch.close()

    def _first_walk(self) -> None:
        try:
            self._pending = self._refresh()
            self._save_clean()
            self._start_sweep(self._pending)
        except BaseException as e:  # reported (and the request refused) by the next refresh()
            self._error = e

    def _save_clean(self) -> None:
        self._cache.save(self._stamps, self._held(), self._stamps_digest, None)

    def _held(self) -> set[str]:
        """The entries the clean cache must not vouch for: a file holding a secret (or unscannable),
        an entry whose name, link target or attributes hold one."""
        return self._secret_paths | self._name_hits | self._xattr_hidden

    @property
    def entries(self) -> int:
        """How many entries the last refresh found (what the warm server is worth, see
        :mod:`codeward.cli.sandbox_warm`)."""
        return len(self._stamps)

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
            now = tree_walk.snapshot(str(self.root))
            return [p for p in tree_walk.changed(now, self._stamps) if tree_walk.is_file(now[p])]

    def mark_secret(self, path: str) -> None:
        """Count ``path`` among the files holding a secret until it changes: a tool redacted a value
        in it (one the session learned after the file was scanned). Searched redacted from now on."""
        if tree_walk.is_file(self._stamps.get(path, "")):
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
        known, and their redacted text differs from the raw one all the same. Every entry is checked
        again (a file's contents, and any entry's name, link target and attributes, see
        :meth:`_sweep_names`) but those a completed sweep for these values (at least) cleared, in
        this process or an earlier one, and unchanged since (:mod:`codeward.privacy.clean_cache`); a
        file that changes meanwhile is rescanned by the next refresh (a mark left here only makes
        grep search it redacted)."""
        from codeward.privacy.known import KnownValues
        from codeward.privacy.names import NameBatch

        known = KnownValues()
        known.add_all(values)
        digests = self._cache.digests(v for v, _ in values)
        with self._sweep_lock:
            start, walk = self._stamps, self._stamps_digest  # a walk replaces the dict, never changes it
            names = NameBatch()
            for path in self._cache.to_sweep(start, digests):  # not those a sweep cleared, unchanged since
                if self._stop.is_set():
                    return  # not recorded as swept
                stamp = start[path]
                self._sweep_entry(names, path, stamp)
                size = tree_walk.stamp_size(stamp)
                if not tree_walk.is_file(stamp) or path in self._secret_paths or size == 0:
                    continue
                try:
                    got = _texts(path, size)
                except OSError as e:
                    got = f"unreadable ({e.strerror})"
                if isinstance(got, str) or any(_counts(known.find(t), got[1]) for t in got[0]):
                    self._secret_paths.add(path)  # holds a value, or unreadable now (fail closed)
            self._sweep_names(names, known.find)
            self._swept.update(v for v, _ in values)
            if digests is not None and self._stamps is start:
                self._cache.save(start, self._held(), walk, digests)

    def _sweep_entry(self, names: NameBatch, path: str, stamp: str) -> None:
        """Add what the sweep checks of an entry besides a file's contents: its name, a link's target
        and its attributes (as this process's walk read them, else read now)."""
        from codeward.privacy.names import xattr_text

        self._add_name(names, path, stamp)
        text = self._xattrs.get(path)
        if text is None:
            text = xattr_text(path)  # vouched for by the clean cache: not read by this process's walk
        if text:
            names.add_text(text, XATTR + path)

    def _sweep_names(self, names: NameBatch, find: Callable[[str], list[Any]]) -> None:
        """The sweep's part for names, link targets and attributes (a file named after the value a
        ``.env`` holds): the walk's own listing, no second one."""
        from codeward.privacy.names import name_counts, scan_batch

        _, hide = scan_batch(names, lambda text: [], find, name_counts)
        self._mark_hidden(hide)

    def _refresh(self) -> list[tuple[str, str]]:
        from codeward.privacy.names import NameBatch

        out: list[tuple[str, str]] = []
        kept = None
        if self.watch is not None and self._walked:
            kept = self._merged() or self.watch.current(self._stamps)
        if kept is not None:  # the watch's events: what changed since the last refresh, nothing walked
            now, changed, gone = kept
            digest = self._stamps_digest if now is self._stamps else None
        else:
            walk, self._early = self._early, None
            self._drop_background()
            if walk is None:
                if self.watch is not None:
                    self.watch.begin_walk()
                walk = tree_walk.Walk(str(self.root))
            now, digest = walk.result(), walk.digest
            # The first walk reads what the cache does not vouch for (clean under the same rules in an
            # earlier process, and unchanged since); later ones what changed since the last walk.
            changed = tree_walk.changed(now, self._stamps) if self._walked else self._cache.unvouched(now, digest)
            gone = list(self._stamps.keys() - now.keys())
            self._cover(now)
        for path in gone:
            self._forget(path)
        if gone or len(now) != len(self._stamps):  # nothing gone and as many entries: the same names
            self.tree_generation += 1
        self._stamps, self._stamps_digest = now, digest
        self._start_background()
        names = NameBatch()
        for i, path in enumerate(changed):
            if self._stop.is_set():
                rest = set(changed[i:])  # not read: new or changed again at the next walk
                self._stamps, self._stamps_digest = {p: s for p, s in now.items() if p not in rest}, None
                self.tree_generation += 1
                break
            self._forget(path)
            stamp = now[path]
            self._add_name(names, path, stamp)
            self._add_xattrs(names, path)
            size = tree_walk.stamp_size(stamp)
            if not tree_walk.is_file(stamp) or size == 0:
                continue
            try:
                got = _texts(path, size)
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
        return out

    def _start_background(self) -> None:
        """Start the periodic full walk in the background when it is due (the watch cannot see every
        write, :data:`codeward.privacy.tree_watch.FULL_WALK_EVERY_S`), so no refresh waits for it."""
        watch = self.watch
        if watch is None or self._background is not None or self._stop.is_set() or not watch.due():
            return
        watch.mark()
        self._background = BackgroundWalk(str(self.root))

    def _merged(self) -> tuple[dict[str, str], list[str], list[str]] | None:
        """A finished background walk, brought up to now by the watch (None: none, not finished, or
        not to be trusted)."""
        bg = self._background
        if bg is None or not bg.done():
            return None
        self._background = None
        walked = bg.result
        if walked is None or self.watch is None:
            return None
        return self.watch.merge(walked, self._stamps)

    def _drop_background(self) -> None:
        bg, self._background = self._background, None
        if bg is not None:
            bg.cancel()

    def _cover(self, stamps: dict[str, str]) -> None:
        """After a full walk: put (or keep) the tree under the session's watch."""
        if not self._watching or self._stop.is_set():
            return
        if self.watch is None:
            self.watch = start_watch(self, self._root)
        if self.watch is not None:
            self.watch.cover(stamps)
            if self.watch.broken:
                self.watch = None  # walks from now on, as without it

    def _forget(self, path: str) -> None:
        """Drop what was known of an entry that changed or went away (rescanned if it is there)."""
        self._secret_paths.discard(path)
        self.unscannable.pop(path, None)
        self._name_hits.discard(path)
        self._xattr_hidden.discard(path)
        self._xattrs.pop(path, None)

    def _add_name(self, names: NameBatch, path: str, stamp: str) -> None:
        """An entry's name and a link's target, whose hit hides the directory listing the entry
        (not the root's own name: the user chose the workspace)."""
        if path == self._root:
            return
        names.add(path.rpartition("/")[2], path)
        target = tree_walk.link_target(stamp)
        if target is not None:
            names.add(target, path)

    def _add_xattrs(self, names: NameBatch, path: str) -> None:
        from codeward.privacy.names import xattr_text

        text = xattr_text(path)
        self._xattrs[path] = text
        if text:
            names.add_text(text, XATTR + path)

    def _scan_names(self, names: NameBatch) -> list[tuple[str, str]]:
        """Scan the names, link targets and attributes collected by a walk (see :mod:`codeward.privacy.names`)."""
        from codeward.privacy.names import name_counts, scan_batch

        if not names.lines:
            return []
        known = self.known_finder if self._walked else None
        values, hide = scan_batch(names, lambda text: self.scanner.scan(text, path=NAMES_PATH), known, name_counts)
        self._mark_hidden(hide)
        return values

    def _mark_hidden(self, hits: Iterable[str]) -> None:
        """Record the entries a name batch's hits are charged to (see :meth:`hidden_entries`)."""
        for key in hits:
            if key.startswith(XATTR):
                self._xattr_hidden.add(key[len(XATTR) :])
            else:
                self._name_hits.add(key)

    def linked_outside(self, writable: Iterable[str | os.PathLike[str]] = ()) -> dict[str, list[str]]:
        """The files holding a secret (in their contents or an extended attribute) that have another
        name where a command can write and the walk does not look (a git object store, ``/tmp``, an extra ``writable`` directory), with those
        names (see :mod:`codeward.privacy.link_names`). Looked for only while such a file has more
        links than the walk found names, and again only when one of those files' stamps changes (a
        new link moves its link count and ctime)."""
        from codeward.privacy import link_names

        linked = {}
        # a file hidden for a user.* attribute too: the attribute belongs to the inode (red team rt17)
        for p in self._secret_paths | self._xattr_hidden:
            stamp = self._stamps.get(p, "")
            if stamp.startswith("f ") and tree_walk.stamp_links(stamp) > 1:
                linked[p] = stamp
        if not linked:
            return {}
        places = link_names.command_places(self._root, writable)
        key = (tuple(sorted(linked.items())), tuple(places))
        if self._linked_verdict is not None and self._linked_verdict[0] == key:
            return self._linked_verdict[1]

        def ident(stamp: str) -> tuple[int, int]:
            _, dev, ino = stamp.split(" ", 3)[:3]
            return int(dev), int(ino)

        wanted = {ident(s): p for p, s in linked.items()}
        names: dict[tuple[int, int], int] = {}
        walked: set[str] = set()
        real = os.path.realpath(self._root)
        for path, stamp in self._stamps.items():
            if stamp.startswith("f ") and (i := ident(stamp)) in wanted:
                names[i] = names.get(i, 0) + 1
                walked.add(real + path[len(self._root) :])
        more = {i: p for i, p in wanted.items() if tree_walk.stamp_links(linked[p]) > names.get(i, 0)}
        found = link_names.other_names(more, places, walked) if more else {}
        self._linked_verdict = (key, found)
        return found

    def hidden_entries(self) -> set[str]:
        """Directories and entries to hide whole because a name, link target or attribute holds a
        secret (:mod:`codeward.privacy.names`); absolute paths, the workspace root among them when
        it is the one."""
        dirs = {p.rpartition("/")[0] or "/" for p in self._name_hits}
        return dirs | self._xattr_hidden


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


def cache_file_for(cache_dir: Path, root: Path, scanner: Any) -> Path:
    """One cache file per workspace and rule set: other rules may find what these did not."""
    from codeward import __version__

    h = hashlib.sha256(f"{__version__}\0{root.resolve()}".encode("utf-8", "surrogateescape"))
    for r in getattr(getattr(scanner, "ruleset", None), "rules", ()):
        h.update(f"\0{r.id}\0{r.regex_source}\0{r.origin}\0{r.keywords}\0{len(r.allowlists)}".encode())
    h.update(repr(getattr(scanner, "allowlist", ())).encode())
    h.update(repr(getattr(scanner, "redact_pii", False)).encode())
    return cache_dir / f"learn-{h.hexdigest()[:24]}.bin"


_running: weakref.WeakSet[WorkspaceSecrets] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for learner in list(_running):
        learner.stop()
