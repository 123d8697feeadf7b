"""Forward-secure sealing keys: a hash chain of epoch keys, the current one kept 0600 in the home.

The idea is journald's Forward Secure Sealing, in a scheme of our own built only from SHA-256 and
HMAC:

* ``codeward logs setup-keys`` draws a random 32-byte seed ``k_0``. The seed, printed once as the
  **verification key** (``cwvk1-<hex>``), is what the user keeps elsewhere; it is never stored.
* Epoch keys form a one-way chain ``k_{e+1} = SHA-256("codeward-seal/next" || k_e)``. Whoever holds
  ``k_e`` can compute every later key, never an earlier one.
* The **sealing state** (``$CODEWARD_HOME/audit-seal``, mode 0600 in the 0700 home, which the
  sandbox masks) holds the next unused epoch number and its key. Each session *claims* one epoch at
  its start: under an exclusive lock it reads ``k_e``, overwrites the state in place with
  ``e+1, k_{e+1}`` and ``fsync``\\ s, and keeps ``k_e`` only in its own memory. Once the session ends
  nothing on disk, and nothing in any process, can produce ``k_e`` again.
* Inside a session the key evolves once more per record (:class:`RecordKeys`), so a process
  compromised mid-session cannot re-MAC the records it already wrote.

What the verification key proves, and what it cannot, is spelt out in :mod:`codeward.audit.verify`
and the README's "Audit" section. The state file is overwritten in place (same length) rather than
replaced by a rename, so the old key's bytes do not survive in a freed block of the same file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codeward.errors import CodewardError, UsageError

STATE_NAME = "audit-seal"
STATE_FORMAT = "codeward-seal/1"
VK_PREFIX = "cwvk1-"
_NEXT = b"codeward-seal/next\0"
_STATE_LEN = 256


class SealStateError(CodewardError):
    """The sealing state exists but cannot be used (unreadable, malformed, or tampered)."""


def next_key(key: bytes) -> bytes:
    """The key of the following epoch (one way: the earlier key cannot be recovered)."""
    return hashlib.sha256(_NEXT + key).digest()


def key_id(seed: bytes) -> str:
    """A short public fingerprint of a verification key, written in every keyed record's session."""
    return hashlib.sha256(b"codeward-seal/id\0" + seed).hexdigest()[:16]


def derive(key: bytes, label: str, session_id: str) -> bytes:
    """A purpose-bound key from an epoch key (``records`` or ``index``) for one session."""
    return hmac.new(key, f"codeward-seal/{label}\0{session_id}".encode(), hashlib.sha256).digest()


def mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


class RecordKeys:
    """The per-record key chain of one session: record ``j`` is MACed with ``r_j``; ``r_{j+1} = next(r_j)``."""

    def __init__(self, epoch_key_: bytes, session_id: str) -> None:
        self._key = derive(epoch_key_, "records", session_id)

    def sign(self, data: bytes) -> str:
        """MAC ``data`` with the current record key, then erase it by moving forward."""
        out = mac(self._key, data)
        self._key = next_key(self._key)
        return out

    def signer(self) -> Callable[[bytes], str]:
        """The current key as a MAC function, then move forward (for the verifier's random access)."""
        key = self._key
        self._key = next_key(self._key)
        return lambda data: mac(key, data)


def format_verification_key(seed: bytes) -> str:
    return VK_PREFIX + seed.hex()


def parse_verification_key(text: str) -> bytes:
    """The seed from ``cwvk1-<64 hex>``; UsageError naming the argument otherwise."""
    raw = text.strip()
    if not raw.startswith(VK_PREFIX) or len(raw) != len(VK_PREFIX) + 64:
        raise UsageError("--verification-key: expected cwvk1- followed by 64 hex digits (as setup-keys printed it)")
    try:
        return bytes.fromhex(raw[len(VK_PREFIX) :])
    except ValueError:
        raise UsageError("--verification-key: expected cwvk1- followed by 64 hex digits") from None


@dataclass(frozen=True)
class SealState:
    """What the state file says: the next epoch to claim, its key, and the key's public id."""

    epoch: int
    key: bytes
    key_id: str


@dataclass(frozen=True)
class Claim:
    """One session's epoch: its number and key (held in memory only) and the key id."""

    epoch: int
    key: bytes
    key_id: str


def state_path(home: Path) -> Path:
    return home / STATE_NAME


def _encode(state: SealState) -> bytes:
    body = json.dumps(
        {"format": STATE_FORMAT, "epoch": state.epoch, "key": state.key.hex(), "key_id": state.key_id},
        separators=(",", ":"),
    ).encode("ascii")
    if len(body) >= _STATE_LEN:
        raise SealStateError("sealing state too large")
    return body + b" " * (_STATE_LEN - 1 - len(body)) + b"\n"


def _decode(data: bytes, path: Path) -> SealState:
    try:
        raw = json.loads(data)
        if raw.get("format") != STATE_FORMAT:
            raise ValueError
        epoch, key, kid = raw["epoch"], bytes.fromhex(raw["key"]), raw["key_id"]
        if not isinstance(epoch, int) or epoch < 0 or len(key) != 32 or not isinstance(kid, str):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SealStateError(
            f"{path}: the audit sealing state is malformed; run codeward logs setup-keys --force to start a new one"
        ) from None
    return SealState(epoch, key, kid)


def _open_state(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise SealStateError(f"{path}: cannot open the audit sealing state ({e.strerror})") from None


def read_state(home: Path) -> SealState | None:
    """The sealing state, or None when ``setup-keys`` was never run."""
    path = state_path(home)
    if not os.path.lexists(path):
        return None
    fd = _open_state(path, os.O_RDONLY)
    try:
        return _decode(os.pread(fd, _STATE_LEN, 0), path)
    finally:
        os.close(fd)


def setup_keys(
    home: Path,
    *,
    force: bool = False,
    seed: bytes | None = None,
    on_create: Callable[[bytes, SealState], None] | None = None,
) -> tuple[bytes, SealState]:
    """Create a fresh sealing state; returns (seed, state). The seed is never written anywhere.

    ``seed`` (a verification key kept as a CI secret) replaces the random draw, for a machine that
    starts empty every time: the auditor already holds the key. ``on_create(seed, state)`` runs
    once the state is ready and before it is put in place (it writes the index's genesis entry), so
    a state never exists without the genesis that says where its epochs start."""
    path = state_path(home)
    if os.path.lexists(path) and not force:
        raise UsageError(
            f"{path} already exists: sealing is set up. Use --force to start a new key chain "
            "(logs sealed so far then need the old verification key)"
        )
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    seed = seed if seed is not None else secrets.token_bytes(32)
    state = SealState(0, seed, key_id(seed))
    tmp = home / f".{STATE_NAME}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, _encode(state))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if on_create is not None:
            on_create(seed, state)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if force and os.path.lexists(path):
        _shred(path)
    os.replace(tmp, path)
    _fsync_dir(home)
    return seed, state


def claim_epoch(home: Path) -> Claim | None:
    """Take the next epoch for a session and move the state forward; None when sealing is not set up.

    The state is overwritten in place and ``fsync``\\ ed before the key is used, so a crash can only
    waste an epoch, never reuse one.
    """
    path = state_path(home)
    if not os.path.lexists(path):
        return None
    fd = _open_state(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        state = _decode(os.pread(fd, _STATE_LEN, 0), path)
        ahead = SealState(state.epoch + 1, next_key(state.key), state.key_id)
        os.pwrite(fd, _encode(ahead), 0)
        os.fsync(fd)
        return Claim(state.epoch, state.key, state.key_id)
    except OSError as e:
        raise SealStateError(f"{path}: cannot move the audit sealing state forward ({e.strerror})") from None
    finally:
        os.close(fd)


def _shred(path: Path) -> None:
    """Overwrite an old state in place before it is replaced (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.pwrite(fd, b"\0" * _STATE_LEN, 0)
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
