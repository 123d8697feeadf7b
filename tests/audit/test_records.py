"""The record format and the hash chain, byte for byte."""

from __future__ import annotations

import hashlib
import json

from codeward.audit.records import Chain, genesis, parse_line, record_for_event

SID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def build(n: int = 3) -> list[bytes]:
    c = Chain(SID)
    lines = [c.line("session.start", {"provider": "p"}, "2025-01-02T03:04:05.000Z")]
    lines += [c.line("command", {"argv": ["echo", str(i)]}, f"2025-01-02T03:04:0{i}.000Z") for i in range(n)]
    lines.append(c.seal("2025-01-02T03:05:00.000Z"))
    return lines


def test_each_record_chains_to_the_exact_bytes_of_the_one_before() -> None:
    lines = build()
    recs = [json.loads(ln) for ln in lines]
    assert recs[0]["prev"] == genesis(SID)
    for before, rec in zip(lines, recs[1:], strict=False):
        assert rec["prev"] == hashlib.sha256(before.rstrip(b"\n")).hexdigest()
    assert [r["seq"] for r in recs] == list(range(len(recs)))
    assert all(r["sid"] == SID for r in recs)
    assert recs[-1] == {**recs[-1], "type": "seal", "records": len(recs) - 1}


def test_own_hash_covers_everything_before_it() -> None:
    line = build()[1].rstrip(b"\n")
    body, _, tail = line.rpartition(b',"hash":"')
    assert hashlib.sha256(body + b"}").hexdigest() == tail[:-2].decode()
    assert parse_line(line).hash_ok
    assert not parse_line(line.replace(b"echo", b"ECHO")).hash_ok


def test_genesis_differs_per_session() -> None:
    assert genesis("a") != genesis("b")


def test_lines_are_ascii_even_for_non_utf8_names() -> None:
    c = Chain(SID)
    line = c.line("file.change", {"path": "caf\u00e9/\udcff.txt"}, "t")
    line.decode("ascii")
    assert json.loads(line)["path"] == "caf\u00e9/\udcff.txt"


def test_fields_cannot_override_chain_keys() -> None:
    c = Chain(SID)
    rec = json.loads(c.line("x", {"seq": 99, "prev": "0" * 64, "hash": "1", "sid": "other", "ok": 1}, "t"))
    assert rec["seq"] == 0 and rec["sid"] == SID and rec["prev"] == genesis(SID) and rec["ok"] == 1


def test_nothing_follows_a_seal() -> None:
    c = Chain(SID)
    c.seal("t")
    try:
        c.line("x", {}, "t")
    except ValueError:
        return
    raise AssertionError("a record was written after the seal")


def test_event_mapping() -> None:
    assert record_for_event({"type": "egress", "host": "h", "bytes": 1})[0] == "request.sent"  # type: ignore[index]
    assert record_for_event({"type": "command.executed", "argv": ["ls"]}) == ("command", {"argv": ["ls"]})
    assert record_for_event({"type": "decision", "decision": "deny", "decided_by": "rule:rm -rf"})[0] == "decision"  # type: ignore[index]
    assert record_for_event({"type": "file.changed", "path": "a"})[0] == "file.change"  # type: ignore[index]
    assert record_for_event({"type": "session.ended", "status": "completed"})[0] == "session.end"  # type: ignore[index]
    assert record_for_event({"type": "thread.started", "thread_id": "x"}) is None
    assert record_for_event({"type": "item.completed", "item": {"type": "agent_message", "text": "hi"}}) is None
    assert record_for_event({"type": "item.completed", "item": {"type": "error", "message": "m"}}) == (
        "error",
        {"message": "m"},
    )
    assert record_for_event({"type": "ignore.blocked", "path": "x"}) == ("ignore.blocked", {"path": "x"})
    assert record_for_event({"no": "type"}) is None
