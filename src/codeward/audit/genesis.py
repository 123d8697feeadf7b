"""The index's ``genesis`` entry, written by ``logs setup-keys``: where a key chain starts.

It fixes, under a MAC only the verification key can check, the two facts a forger would most like
to move: the first epoch the sealing state issues (so epochs cut from the start of the index are
missed, not silently forgotten), and which logs existed before sealing began (so an unkeyed log
forged later cannot pass as one written before the index existed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeward.audit.index import append_entry, genesis_key
from codeward.audit.keys import SealState
from codeward.audit.store import list_logs
from codeward.audit.verify import verify_file

GENESIS = "genesis"


def adoption(root: Path) -> list[dict[str, Any]]:
    """Every log under ``root`` now: its id, path and the SHA-256 of its last line (its seal)."""
    out: list[dict[str, Any]] = []
    for lf in list_logs(root):
        if not lf.session_id:
            continue
        res = verify_file(lf.path, lf.session_id, None)
        out.append({"sid": lf.session_id, "log": str(lf.path.relative_to(root)), "last": res.last_hash})
    return out


def write_genesis(root: Path, seed: bytes, state: SealState, ts: str) -> int:
    """Append the genesis entry for ``state`` (MACed with the seed's genesis key); the number adopted."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    adopted = adoption(root)
    fields = {"sid": GENESIS, "key_id": state.key_id, "first_epoch": state.epoch, "adopted": adopted}
    append_entry(root, GENESIS, fields, ts, genesis_key(seed, state.key_id))
    return len(adopted)
