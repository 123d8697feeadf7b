"""verify finds every kind of tampering, and names the first bad line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codeward.audit.records import Chain
from codeward.audit.verify import verify_bytes

SID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def log(n: int = 6, sid: str = SID) -> list[bytes]:
    c = Chain(sid)
    out = [c.line("session.start", {"provider": "p", "model": "m"}, "2025-01-02T03:04:05.000Z")]
    for i in range(n):
        out.append(
            c.line("command", {"argv": ["echo", f"step {i}"], "exit_code": 0}, f"2025-01-02T03:04:{10 + i}.000Z")
        )
    out.append(c.line("session.end", {"status": "completed"}, "2025-01-02T03:05:00.000Z"))
    out.append(c.seal("2025-01-02T03:05:00.001Z"))
    return out


def check(lines: list[bytes], sid: str | None = SID):  # type: ignore[no-untyped-def]
    return verify_bytes(b"".join(lines), sid)


def test_untouched_log_passes() -> None:
    r = check(log())
    assert r.ok, r.problem
    assert (r.records, r.session_id, r.end_status) == (9, SID, "completed")
    assert r.first_ts == "2025-01-02T03:04:05.000Z"


def test_changed_record() -> None:
    lines = log()
    lines[3] = lines[3].replace(b"step 2", b"step X")
    r = check(lines)
    assert (r.problem.line, r.problem.kind) == (4, "changed")  # type: ignore[union-attr]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_caught(data: st.DataObject) -> None:
    raw = bytearray(b"".join(log(3)))
    positions = [i for i, b in enumerate(raw) if b != 0x0A]
    i = data.draw(st.sampled_from(positions))
    new = data.draw(st.integers(0x20, 0x7E).filter(lambda b: b != raw[i]))
    raw[i] = new
    r = verify_bytes(bytes(raw), SID)
    assert not r.ok
    assert r.problem.line == raw[:i].count(b"\n") + 1  # type: ignore[union-attr]


def test_removed_record() -> None:
    lines = log()
    del lines[2]  # record 2; line 3 now holds record 3
    r = check(lines)
    assert (r.problem.line, r.problem.kind) == (3, "removed")  # type: ignore[union-attr]
    assert "record 2 removed" in r.problem.message  # type: ignore[union-attr]


def test_removed_first_records() -> None:
    r = check(log()[2:])
    assert (r.problem.line, r.problem.kind) == (1, "removed")  # type: ignore[union-attr]
    assert "records 0 to 1" in r.problem.message  # type: ignore[union-attr]


def test_reordered_records() -> None:
    lines = log()
    lines[3], lines[4] = lines[4], lines[3]
    r = check(lines)
    assert (r.problem.line, r.problem.kind) == (4, "reordered")  # type: ignore[union-attr]


def test_duplicated_record() -> None:
    lines = log()
    lines.insert(4, lines[3])
    assert check(lines).problem.kind == "reordered"  # type: ignore[union-attr]


def test_missing_seal() -> None:
    lines = log()[:-1]
    r = check(lines)
    assert (r.problem.line, r.problem.kind) == (len(lines) + 1, "unsealed")  # type: ignore[union-attr]


def test_cut_mid_record() -> None:
    raw = b"".join(log())
    r = verify_bytes(raw[: len(raw) - 20], SID)
    assert r.problem.kind == "truncated"  # type: ignore[union-attr]


def test_empty_log() -> None:
    assert verify_bytes(b"", SID).problem.kind == "empty"  # type: ignore[union-attr]


def test_forged_record_with_a_valid_own_hash_does_not_chain() -> None:
    lines = log()
    forger = Chain(SID)
    for _ in range(3):
        forger.line("x", {}, "t")  # a chain that does not match the real one at seq 3
    lines[3] = forger.line("command", {"argv": ["echo", "innocent"]}, "2025-01-02T03:04:12.000Z")
    r = check(lines)
    assert (r.problem.line, r.problem.kind) == (4, "inserted")  # type: ignore[union-attr]


def test_record_appended_after_the_seal() -> None:
    lines = log()
    c = Chain(SID)
    for _ in range(len(lines)):
        c.line("x", {}, "t")
    lines.append(c.line("command", {"argv": ["rm"]}, "t"))
    assert check(lines).problem.kind in ("inserted", "reordered")  # type: ignore[union-attr]


def test_log_of_another_session() -> None:
    other = log(sid="11111111-1111-1111-1111-111111111111")
    assert check(other).problem.kind == "mismatch"  # type: ignore[union-attr]
    assert check(other, None).ok  # a file given by path names no session


def test_record_spliced_in_from_another_session() -> None:
    lines = log()
    lines[3] = log(sid="11111111-1111-1111-1111-111111111111")[3]
    assert check(lines).problem.kind == "inserted"  # type: ignore[union-attr]


def test_seal_count_must_match() -> None:
    real = Chain(SID)
    lines = [real.line("session.start", {}, "t"), real.line("seal", {"records": 5}, "t")]
    r = check(lines)
    assert (r.problem.line, r.problem.kind) == (2, "changed")  # type: ignore[union-attr]
