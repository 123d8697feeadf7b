"""The secret learner's clean-file cache, kept between processes under the codeward home's ``cache/``.

It records the files a walk found *clean* (no finding, unreadable ones never) with their stamps
(:mod:`codeward.privacy.tree_walk`), so that the next process reads only what changed. It holds
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
names), the swept ones first (the header gives their count).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from codeward.dirindex.store import _key, _read_private, _write_private

MAGIC = b"codeward-learn-cache 3\n"
_ENC = ("utf-8", "surrogateescape")


@dataclass
class Cached:
    """What a cache file vouches for: clean files' stamps, and those a sweep cleared for ``digests``."""

    clean: dict[str, str] = field(default_factory=dict)
    swept: dict[str, str] = field(default_factory=dict)
    digests: frozenset[str] = frozenset()


def value_digest(key: bytes, value: str) -> str:
    """A keyed digest of a secret value (so the cache can say "swept for it" without holding it)."""
    return hmac.new(key, b"value\0" + value.encode(*_ENC), hashlib.sha256).hexdigest()[:32]


def cache_key(cache_dir: Path, *, create: bool) -> bytes | None:
    """The codeward cache's HMAC key (None when there is none and ``create`` is False, or it is not ours)."""
    try:
        if create:
            cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _key(cache_dir, create=create)
    except OSError:
        return None


def load(path: Path, key: bytes | None, binding: str) -> Cached:
    """The cache at ``path`` if it is intact, ours and for ``binding`` (workspace and rules); else empty."""
    if key is None:
        return Cached()
    try:
        data = _read_private(path)
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
    except (ValueError, TypeError, KeyError, AttributeError):
        return Cached()
    parts = body.decode(*_ENC).split("\0") if body else []
    if len(parts) % 2 or n_swept * 2 > len(parts):
        return Cached()
    clean = dict(zip(parts[0::2], parts[1::2], strict=True))
    if n_swept * 2 == len(parts):
        return Cached(clean, clean, digests)  # all of them (the usual case): one dict
    swept = dict(zip(parts[0 : 2 * n_swept : 2], parts[1 : 2 * n_swept : 2], strict=True))
    return Cached(clean, swept, digests)


def save(path: Path, key: bytes | None, binding: str, cached: Cached) -> None:
    """Write ``cached`` atomically (0600). Swept entries must be among the clean ones. Errors are
    swallowed: a cache only saves time."""
    if key is None:
        return
    swept = cached.swept
    others = () if swept is cached.clean else cached.clean.items() - swept.items()
    header = json.dumps({"binding": binding, "swept": len(swept), "digests": sorted(cached.digests)})
    body = "\0".join(chain.from_iterable(chain(swept.items(), others))).encode(*_ENC)
    rest = header.encode() + b"\n" + body
    mac = hmac.new(key, rest, hashlib.sha256).hexdigest().encode()
    with contextlib.suppress(OSError):  # a cache only saves time
        _write_private(path, MAGIC + mac + b"\n" + rest)


def binding_of(root: Path, rules_key: str) -> str:
    """What a cache file is bound to: the workspace path and the rules' key (its file name's hash)."""
    return f"{os.fsdecode(root)}\0{rules_key}"
