"""The secret learner's clean-file cache, kept between processes under the codeward home's ``cache/``.

It records the entries a walk found *clean* with their stamps (:mod:`codeward.privacy.tree_walk`),
so that the next process reads only what changed. Clean means: no finding in a file's contents
(unreadable or unscannable files never), nor in the entry's name, a symlink's target or its
``user.*`` attributes (a change of those moves the stamp: a new path, a new link, a new ctime). It holds
no value and does not say which files hold secrets: those are simply absent, and rescanned.

It also records which files a *sweep* (the learner's search for known values in any encoding) has
cleared, and for which values: a keyed digest of each value, never the value. Without it every
``codeward sandbox`` in a repository with one secret read every file again (14 s at 200 000
files). A cleared file is skipped by a later sweep only while its stamp is unchanged and every
value swept for is among the digests.

The file is an optimisation, never an authority: it is bound to the workspace path and the rules
(its name and its header), authenticated with an HMAC under the codeward cache's random key
(:mod:`codeward.dirindex.store`, 0600), and a stamp is trusted only where it equals the file's
stamp now. A file that is unreadable, foreign, altered or of another format is ignored (the cost is
a rescan, never a missed secret). Layout: ``MAGIC``, the HMAC-SHA256 hex of the rest, a newline,
a JSON header line, then ``path NUL stamp NUL`` pairs (UTF-8, surrogate escapes for any bytes in
names), the swept ones first (the header gives their count), each part in the walk's order: the
next process compares its walk with them entry by entry, and a dict comparison in the same order
runs several times faster than in a random one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from codeward.dirindex import store
from codeward.privacy import tree_walk

MAGIC = b"codeward-learn-cache 5\n"
"""Format 5: as 4, with streams carved at any offset and text's hex, ASCII85 and base64-of-gzip
blobs read; a format-4 file recorded a makeself installer, a ``.deb`` or a hex dump clean unread.
Format 4: entries of every type, names, link targets and attributes included in "clean"; a
format-3 file recorded files clean whose name or attributes were never read, and archives (xz,
bzip2, tar, nested zip, PDF) clean without unpacking them, so it is not trusted."""
_ENC = ("utf-8", "surrogateescape")


@dataclass
class Cached:
    """What a cache file vouches for: clean files' stamps, and those a sweep cleared for ``digests``."""

    clean: dict[str, str] = field(default_factory=dict)
    swept: dict[str, str] = field(default_factory=dict)
    digests: frozenset[str] = frozenset()
    walk: str | None = None
    """The digest of the walk ``clean`` was taken from (:attr:`codeward.privacy.tree_walk.Walk.digest`)."""


class CleanCache:
    """One learner's cache file: what it vouches for, what a sweep may skip, and when to write it.

    ``_within`` is ``(stamps, outside)`` once a walk's ``stamps`` are known to hold every entry of
    the loaded clean dict unchanged, ``outside`` being the rest (the files with findings, and new
    ones): then the questions below are answered from those few paths, not by comparing 200 000
    entries again."""

    def __init__(self, cache_dir: Path | None, path: Path | None, binding: str) -> None:
        self.cache_dir, self.path, self.binding = cache_dir, path, binding
        key = cache_key(cache_dir, create=False) if cache_dir is not None and path is not None else None
        self.cached = load(path, key, binding) if path is not None else Cached()
        self._within: tuple[dict[str, str], frozenset[str]] | None = None

    def unvouched(self, now: dict[str, str], digest: str | None) -> list[str]:
        """The paths of a first walk's ``now`` that the cache does not vouch for (sorted)."""
        clean = self.cached.clean
        if digest is not None and digest == self.cached.walk:
            out, within = sorted(now.keys() - clean.keys()), True  # the same walk as when it was written
        else:
            out, within = tree_walk.changed_within(now, clean)
        self._within = (now, frozenset(out)) if within else None
        return out

    def digests(self, values: Iterable[str]) -> frozenset[str] | None:
        """Keyed digests of ``values`` (None without a cache: nothing is skipped or recorded)."""
        key = cache_key(self.cache_dir, create=True) if self.cache_dir is not None and self.path is not None else None
        return frozenset(value_digest(key, v) for v in values) if key is not None else None

    def to_sweep(self, stamps: dict[str, str], digests: frozenset[str] | None) -> list[str]:
        """The paths of ``stamps`` a sweep for ``digests``' values must read: all but those a
        sweep for (at least) these values cleared, unchanged since."""
        cached = self.cached
        if digests is None or not digests <= cached.digests:
            return list(stamps)
        within = self._within
        if within is not None and within[0] is stamps and cached.swept is cached.clean:
            return sorted(within[1])
        return tree_walk.changed_within(stamps, cached.swept)[0]

    def save(
        self, stamps: dict[str, str], secret: Iterable[str], walk: str | None, swept_for: frozenset[str] | None
    ) -> None:
        """Record ``stamps`` but the ``secret`` paths as clean, after a walk (``swept_for`` None:
        the loaded file's cleared entries stay cleared where unchanged) or after a sweep of all of
        ``stamps`` for the values of ``swept_for``. Not written when the file already says it."""
        if self.path is None or self.cache_dir is None:
            return
        held = frozenset(p for p in secret if p in stamps)
        cached, within = self.cached, self._within
        same_clean = within is not None and within[0] is stamps and held == within[1]
        same_swept = swept_for is None or (swept_for == cached.digests and cached.swept is cached.clean)
        if same_clean and same_swept and walk == cached.walk:
            return
        clean = dict(stamps)
        for p in held:
            del clean[p]
        if swept_for is not None:
            swept, digests = clean, swept_for
        elif same_clean or clean == cached.clean:
            clean, swept, digests = cached.clean, cached.swept, cached.digests
        else:
            get = cached.swept.get
            swept, digests = {p: s for p, s in clean.items() if get(p) == s}, cached.digests
        new = Cached(clean, swept, digests, walk)
        save(self.path, cache_key(self.cache_dir, create=True), self.binding, new)
        self.cached, self._within = new, (stamps, held)


def value_digest(key: bytes, value: str) -> str:
    """A keyed digest of a secret value (so the cache can say "swept for it" without holding it)."""
    return hmac.new(key, b"value\0" + value.encode(*_ENC), hashlib.sha256).hexdigest()[:32]


def cache_key(cache_dir: Path, *, create: bool) -> bytes | None:
    """The codeward cache's HMAC key (None when there is none and ``create`` is False, or it is not ours)."""
    try:
        if create:
            cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return store.cache_key(cache_dir, create=create)
    except OSError:
        return None


def load(path: Path, key: bytes | None, binding: str) -> Cached:
    """The cache at ``path`` if it is intact, ours and for ``binding`` (workspace and rules); else empty."""
    if key is None:
        return Cached()
    try:
        data = store.read_private(path)
    except OSError:
        return Cached()
    if not data.startswith(MAGIC):
        return Cached()
    mac, nl, rest = data[len(MAGIC) :].partition(b"\n")
    if not nl or not hmac.compare_digest(mac, hmac.new(key, rest, hashlib.sha256).hexdigest().encode()):
        return Cached()
    head, _, body = rest.partition(b"\n")
    try:
        header = json.loads(head)
        if header.get("binding") != binding:
            return Cached()
        n_swept = int(header["swept"])
        digests = frozenset(str(d) for d in header["digests"])
        walk = header.get("walk")
        walk = walk if isinstance(walk, str) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return Cached()
    parts = body.decode(*_ENC).split("\0") if body else []
    if len(parts) % 2 or n_swept * 2 > len(parts):
        return Cached()
    clean = dict(zip(parts[0::2], parts[1::2], strict=True))
    if n_swept * 2 == len(parts):
        return Cached(clean, clean, digests, walk)  # all of them (the usual case): one dict
    swept = dict(zip(parts[0 : 2 * n_swept : 2], parts[1 : 2 * n_swept : 2], strict=True))
    return Cached(clean, swept, digests, walk)


def save(path: Path, key: bytes | None, binding: str, cached: Cached) -> None:
    """Write ``cached`` atomically (0600). Swept entries must be among the clean ones. Errors are
    swallowed: a cache only saves time."""
    if key is None:
        return
    swept = cached.swept
    get = swept.get
    others = () if swept is cached.clean else ((p, s) for p, s in cached.clean.items() if get(p) != s)
    header = json.dumps(
        {"binding": binding, "swept": len(swept), "digests": sorted(cached.digests), "walk": cached.walk}
    )
    body = "\0".join(chain.from_iterable(chain(swept.items(), others))).encode(*_ENC)
    rest = header.encode() + b"\n" + body
    mac = hmac.new(key, rest, hashlib.sha256).hexdigest().encode()
    with contextlib.suppress(OSError):  # a cache only saves time
        store.write_private(path, MAGIC + mac + b"\n" + rest)


def binding_of(root: Path, rules_key: str) -> str:
    """What a cache file is bound to: the workspace path and the rules' key (its file name's hash)."""
    return f"{os.fsdecode(root)}\0{rules_key}"
