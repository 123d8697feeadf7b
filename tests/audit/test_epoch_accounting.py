"""Forgeries the second review found in ``logs verify --all --verification-key``, and their controls.

Each epoch the sealing state ever issued must be opened in the index, from the first one (fixed,
under a MAC, in the ``genesis`` entry ``setup-keys`` writes) to the state's current one; every log
must be opened in the index or adopted by that genesis.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.audit.forge import rewrite_index
from tests.audit.test_sealing import A, B, C, session, setup_keys, verify
from tests.support.cw_subprocess import run_cw

from codeward.audit.index import index_path
from codeward.audit.keys import claim_epoch, read_state
from codeward.audit.records import Chain
from codeward.audit.writer import AuditSink

EPOCH_GAP = "claimed from the sealing state, but no session in the index opened it"


def _cut_session(home: Path, sid: str, log: Path) -> None:
    """What the forger does: drop the session's open/close entries (the rest still chains) and its log."""
    idx = index_path(home / "logs")
    lines = idx.read_bytes().splitlines(keepends=True)
    kept = [ln for ln in lines if json.loads(ln)["sid"] != sid]
    assert len(kept) == len(lines) - 2
    if kept == lines[: len(kept)]:  # a cut tail keeps the chain without any rewriting
        idx.write_bytes(b"".join(kept))
    else:  # a middle cut has to re-chain what follows (unkeyed: the forger has no key)
        idx.write_bytes(b"".join(kept))
        rewrite_index(idx, {})
    log.unlink()


def test_tail_cut_at_the_start_then_a_dry_run(cw_home: Path, tmp_path: Path) -> None:
    """The review's a21: the only (evil) session cut from the index's tail and deleted, then any
    later session; gaps were only checked between epochs present, and epoch 0 was not."""
    key = setup_keys()
    evil = session(cw_home, A)
    _cut_session(cw_home, A, evil)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("hi\n")
    r = run_cw("exec", "-C", str(repo), "--dry-run", "hello", cwd=repo)  # -C: not a git repository
    assert r.returncode == 0, r.stderr
    assert read_state(cw_home).epoch == 2  # the dry run claimed epoch 1 and opened it
    code, bad, _ = verify("--all", key=key)
    assert code == 1
    assert bad == [f"FAIL  index: epoch 0 {EPOCH_GAP}: a deleted session (its log and index entries removed), "
                   "or codeward stopped while starting it"]  # fmt: skip


def test_tail_cut_in_the_middle_then_a_later_session(cw_home: Path) -> None:
    """The review's a7/a8: A, evil B, B cut from the tail and deleted, then C: epoch 1 was a NOTE."""
    key = setup_keys()
    session(cw_home, A)
    evil = session(cw_home, B)
    _cut_session(cw_home, B, evil)
    session(cw_home, C)
    for k in (None, key):  # the index alone already shows the gap; the key proves the index
        code, bad, _ = verify("--all", key=k)
        assert code == 1 and len(bad) == 1 and bad[0].startswith(f"FAIL  index: epoch 1 {EPOCH_GAP}"), bad


def test_middle_entries_cut_and_index_rechained(cw_home: Path) -> None:
    key = setup_keys()
    session(cw_home, A)
    evil = session(cw_home, B)
    session(cw_home, C)
    _cut_session(cw_home, B, evil)
    code, bad, _ = verify("--all")
    assert code == 1 and len(bad) == 1 and f"epoch 1 {EPOCH_GAP}" in bad[0]  # control: the gap is seen unkeyed
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and bad[0].startswith("FAIL  index: index line") and "MAC" in bad[0]


def test_the_first_epoch_cannot_be_moved_without_the_key(cw_home: Path) -> None:
    """The forger cuts epoch 0 and rewrites the genesis to start at epoch 1, re-chaining the index."""
    key = setup_keys()
    evil = session(cw_home, A)
    session(cw_home, B)
    idx = index_path(cw_home / "logs")
    entries = [json.loads(ln) for ln in idx.read_bytes().splitlines() if json.loads(ln)["sid"] != A]
    entries[0]["first_epoch"] = 1
    idx.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in entries))
    rewrite_index(idx, {})
    evil.unlink()
    code, bad, _ = verify("--all")
    assert code == 0, bad  # control: without the key a consistent rewrite holds together
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and bad[0] == (
        "FAIL  index: index line 1: the genesis entry's MAC does not match (written without the key)"
    )


def test_crash_while_starting_fails_closed_and_kill_mid_run_is_explained(cw_home: Path) -> None:
    key = setup_keys()
    session(cw_home, A)
    assert claim_epoch(cw_home) is not None  # epoch 1 claimed, then codeward died before opening its log
    sink = AuditSink(C, logs_dir=cw_home / "logs", seal_home=cw_home)  # epoch 2: killed mid-run
    sink.write_event({"type": "session.started", "provider": "fake"})
    sink.write_event({"type": "command.executed", "argv": ["make"], "exit_code": 0})
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and len(bad) == 2
    assert bad[0].startswith(f"FAIL  index: epoch 1 {EPOCH_GAP}") and "stopped while starting" in bad[0]
    assert bad[1].startswith(f"FAIL  {C}:") and "killed or crashed) after 2 records" in bad[1]
    sink.close()


def _fake_log(home: Path, sid: str) -> Path:
    """An unkeyed, hash-chained, sealed log dated long before sealing was set up (the review's a14)."""
    chain = Chain(sid)
    ts = "2020-01-01T10:00:0{}.000Z"
    body = [
        chain.line("session.start", {"provider": "openai", "model": "gpt-5"}, ts.format(0)),
        chain.line("command", {"command": "git push --force origin main", "exit_code": 0}, ts.format(1)),
        chain.line("session.end", {"status": "completed"}, ts.format(2)),
        chain.seal(ts.format(3)),
    ]
    path = home / "logs" / "2020" / "01" / "01" / f"{sid}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(body))
    return path


def test_unkeyed_log_forged_before_the_index_is_refused(cw_home: Path) -> None:
    session(cw_home, A)  # a genuine log from before setup-keys: adopted
    key = setup_keys()
    session(cw_home, B)
    fake = _fake_log(cw_home, C)
    assert run_cw("logs", "verify", C).returncode == 0  # control: on its own the fake log is intact
    code, bad, _ = verify("--all", key=key)
    assert code == 1
    assert bad == [f"FAIL  {C}: {fake} is not in the index and was not adopted by setup-keys: "
                   "not written by codeward here, or its entries were removed"]  # fmt: skip


def test_adopted_log_replaced_later_or_adopted_by_forgery(cw_home: Path) -> None:
    old = session(cw_home, A)
    key = setup_keys()
    code, bad, _ = verify("--all", key=key)
    assert code == 0, bad
    old.write_bytes(b"".join(old.read_bytes().splitlines(keepends=True)[:-1]))  # seal cut off
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and len(bad) == 1 and "not the log setup-keys adopted" in bad[0]

    # the forger adds a fake log to the genesis' adoption list: the genesis MAC no longer matches
    fake = _fake_log(cw_home, C)
    idx = index_path(cw_home / "logs")
    entries = [json.loads(ln) for ln in idx.read_bytes().splitlines()]
    gen = next(e for e in entries if e["type"] == "genesis")
    gen["adopted"].append({"sid": C, "log": str(fake.relative_to(cw_home / "logs")), "last": None})
    idx.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in entries))
    rewrite_index(idx, {})
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and "genesis entry's MAC does not match" in bad[0]


def test_a_long_genesis_still_chains_the_next_entry(cw_home: Path) -> None:
    """Many adopted logs make the genesis longer than the tail the appender first reads."""
    for i in range(70):
        sink = AuditSink(f"dddd{i:04d}-0000-4000-8000-000000000000", logs_dir=cw_home / "logs")
        sink.write_event({"type": "session.started", "provider": "fake"})
        sink.write_event({"type": "session.ended", "status": "completed"})
    key = setup_keys()
    idx = index_path(cw_home / "logs")
    assert len(idx.read_bytes().splitlines()[-1]) > 8192
    session(cw_home, A)
    code, bad, _ = verify("--all", key=key)
    assert code == 0, bad


def test_setup_keys_force_starts_a_new_chain_that_verifies(cw_home: Path) -> None:
    setup_keys()
    session(cw_home, A)
    r = run_cw("logs", "setup-keys", "--force")
    assert r.returncode == 0 and "1 existing logs adopted" in r.stderr, r.stderr
    key = r.stdout.strip()
    session(cw_home, B)
    code, bad, _ = verify("--all", key=key)
    assert code == 0, bad
    assert os.path.getsize(index_path(cw_home / "logs")) > 0


def test_a_second_file_for_a_session_is_never_ignored(cw_home: Path) -> None:
    """A forged copy of a genuine session under an earlier date: verify used to check one file per id
    (the newest), while ``logs export`` hands both to the SIEM."""
    key = setup_keys()
    log = session(cw_home, A)
    twin = cw_home / "logs" / "2020" / "01" / "01" / f"{A}.jsonl"
    twin.parent.mkdir(parents=True)
    twin.write_bytes(log.read_bytes())
    code, bad, _ = verify("--all", key=key)
    assert code == 1 and bad == [f"FAIL  {A}: {twin} and {log} both claim to be its log: one was copied or forged"]
    twin.unlink()
    code, bad, _ = verify("--all", key=key)
    assert code == 0, bad
