"""codeward logs list / show / verify / export, run as a user runs them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw

from codeward.audit.writer import AuditSink

A = "aaaa1111-0000-4000-8000-000000000001"
B = "aaaa2222-0000-4000-8000-000000000002"
C = "cccc3333-0000-4000-8000-000000000003"


def make_log(home: Path, sid: str, *, day: str = "2025-03-04", end: bool = True) -> Path:
    ticks = iter(range(10_000))
    sink = AuditSink(sid, logs_dir=home / "logs", clock=lambda: f"{day}T10:00:{next(ticks) % 60:02d}.000Z")
    sink.write_event({"type": "session.started", "provider": "fake", "model": "m", "approval_mode": "full-auto"})
    sink.write_event(
        {
            "type": "egress",
            "host": "127.0.0.1",
            "bytes": 321,
            "sha256": "d" * 64,
            "files": ["src/a.py"],
            "redactions": {"github-pat": 1},
        }
    )
    sink.write_event(
        {
            "type": "decision",
            "action": "command",
            "target": "rm -rf /",
            "decision": "deny",
            "decided_by": "rule:rm -rf (AGENTS.md:3)",
            "rule": "rm -rf",
            "source": "AGENTS.md:3",
            "outcome": "denied",
        }
    )
    sink.write_event(
        {
            "type": "command.executed",
            "argv": ["bash", "-c", "echo hi"],
            "tier": "bwrap",
            "exit_code": 0,
            "duration_ms": 12.5,
            "timed_out": False,
        }
    )
    sink.write_event(
        {"type": "file.changed", "path": "b.txt", "kind": "update", "sha256_before": "1" * 64, "sha256_after": "2" * 64}
    )
    if end:
        sink.write_event({"type": "session.ended", "status": "completed"})
    else:
        sink.close()
    assert sink.path is not None
    return sink.path


@pytest.fixture
def logs(cw_home: Path) -> dict[str, Path]:
    return {
        A: make_log(cw_home, A),
        B: make_log(cw_home, B, day="2025-03-05"),
        C: make_log(cw_home, C, day="2025-03-06", end=False),
    }


def test_list(logs: dict[str, Path]) -> None:
    r = run_cw("logs", "list")
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln[:4] in ("aaaa", "cccc")]
    assert [row.split()[0] for row in rows] == [A, B, C]
    assert rows[0].split()[1:] == ["2025-03-04", "10:00:00", "7", "ok", "completed"]
    assert rows[2].split()[-1] == "incomplete"
    data = json.loads(run_cw("logs", "list", "--json").stdout)
    assert [d["session"] for d in data] == [A, B, C] and all(d["status"] == "ok" for d in data)


def test_list_with_no_logs(cw_home: Path) -> None:
    r = run_cw("logs", "list")
    assert r.returncode == 0 and "no audit logs" in r.stdout


def test_show_by_prefix(logs: dict[str, Path]) -> None:
    r = run_cw("logs", "show", "cccc")
    assert r.returncode == 0, r.stderr
    assert "decision" in r.stdout and "'rm -rf /': deny by rule:rm -rf (AGENTS.md:3)" in r.stdout
    assert "bash -c 'echo hi' [tier bwrap] exit 0" in r.stdout
    assert "update b.txt 11111111 -> 22222222" in r.stdout
    assert "321 B to 127.0.0.1" in r.stdout and "github-pat×1" in r.stdout
    assert "integrity: ok" in r.stdout
    data = json.loads(run_cw("logs", "show", "--json", A).stdout)
    assert [d["seq"] for d in data] == list(range(7))


def test_ambiguous_and_unknown_ids_are_usage_errors(logs: dict[str, Path]) -> None:
    r = run_cw("logs", "show", "aaaa")
    assert r.returncode == 2 and "matches 2 sessions" in r.stderr
    r = run_cw("logs", "verify", "zzzz")
    assert r.returncode == 2 and "no audit log matches" in r.stderr


def test_verify_all_good(logs: dict[str, Path]) -> None:
    r = run_cw("logs", "verify", "--all")
    assert r.returncode == 0, r.stdout
    ok = [ln.split()[1].rstrip(":") for ln in r.stdout.splitlines() if ln.startswith("OK")]
    assert ok == ["index", A, B, C] and "3 of 3 logs intact" in r.stdout
    assert "could have rewritten everything consistently" in r.stderr
    assert run_cw("logs", "verify").returncode == 0


def tamper_change(p: Path) -> None:
    lines = p.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"echo hi", b"echo ho")
    p.write_bytes(b"".join(lines))


def tamper_remove(p: Path) -> None:
    lines = p.read_bytes().splitlines(keepends=True)
    del lines[1]
    p.write_bytes(b"".join(lines))


def tamper_reorder(p: Path) -> None:
    lines = p.read_bytes().splitlines(keepends=True)
    lines[2], lines[3] = lines[3], lines[2]
    p.write_bytes(b"".join(lines))


def tamper_unseal(p: Path) -> None:
    lines = p.read_bytes().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[:-1]))


@pytest.mark.parametrize(
    ("tamper", "line", "kind"),
    [
        (tamper_change, 4, "changed"),
        (tamper_remove, 2, "removed"),
        (tamper_reorder, 3, "reordered"),
        (tamper_unseal, 7, "unsealed"),
    ],
)
def test_verify_catches_tampering(logs: dict[str, Path], tamper, line: int, kind: str) -> None:  # type: ignore[no-untyped-def]
    tamper(logs[B])
    r = run_cw("logs", "verify", "--all")
    assert r.returncode == 1
    bad = [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")]
    assert len(bad) == 1 and B in bad[0]
    assert f"line {line}:" in bad[0] and f"[{kind}]" in bad[0]
    assert "2 of 3 logs intact" in r.stdout
    assert run_cw("logs", "verify", A).returncode == 0
    assert run_cw("logs", "verify", B[:8]).returncode == 1
    listed = {d["session"]: d["status"] for d in json.loads(run_cw("logs", "list", "--json").stdout)}
    assert listed[B] == kind and listed[A] == "ok"


def test_verify_a_file_by_path(logs: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "artifact.jsonl"
    copy.write_bytes(logs[A].read_bytes())
    assert run_cw("logs", "verify", str(copy)).returncode == 0
    tamper_remove(copy)
    assert run_cw("logs", "verify", str(copy)).returncode == 1


def test_file_of_one_session_renamed_to_another_id(logs: dict[str, Path]) -> None:
    fake = logs[A].with_name(f"{C.replace('cccc', 'dddd')}.jsonl")
    fake.write_bytes(logs[A].read_bytes())
    r = run_cw("logs", "verify", "dddd")
    assert r.returncode == 1 and "[mismatch]" in r.stdout


def test_export_is_the_exact_lines(logs: dict[str, Path], tmp_path: Path) -> None:
    r = run_cw("logs", "export")
    assert r.returncode == 0
    expected = b"".join(logs[s].read_bytes() for s in (A, B, C)).decode()
    assert r.stdout == expected
    for line in r.stdout.splitlines():
        assert json.loads(line)["sid"] in (A, B, C)


def test_export_since_and_output_file(logs: dict[str, Path], tmp_path: Path) -> None:
    for p in logs.values():
        os.utime(p, (2_000_000_000, 2_000_000_000))  # file times after the cutoff: records decide
    out = tmp_path / "siem.jsonl"
    r = run_cw("logs", "export", "--since", "2025-03-05", "--output", str(out))
    assert r.returncode == 0, r.stderr
    sids = {json.loads(line)["sid"] for line in out.read_text().splitlines()}
    assert sids == {B, C}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    r = run_cw("logs", "export", "--since", "2025-03-06T10:00:03Z")
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert recs and all(x["sid"] == C and x["ts"] >= "2025-03-06T10:00:03" for x in recs)
    bad = run_cw("logs", "export", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_export_ocsf_maps_commands_files_and_requests(logs: dict[str, Path]) -> None:
    r = run_cw("logs", "export", "--format", "ocsf")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(events) == 21
    # raw_data is the exact line: the export can still be verified record by record
    assert "".join(e["raw_data"] + "\n" for e in events) == "".join(logs[s].read_text() for s in (A, B, C))
    by_type = {json.loads(e["raw_data"])["type"]: e for e in events if e["metadata"]["correlation_uid"] == A}
    cmd = by_type["command"]
    assert (cmd["class_uid"], cmd["activity_id"], cmd["type_uid"]) == (1007, 1, 100701)
    assert cmd["process"]["cmd_line"] == "bash -c 'echo hi'" and cmd["status_code"] == "0"
    f = by_type["file.change"]
    assert (f["class_uid"], f["activity_id"]) == (1001, 3) and f["file"]["path"] == "b.txt"
    assert f["file"]["hashes"][0]["value"] == "2" * 64
    req = by_type["request.sent"]
    assert req["class_uid"] == 4002 and req["dst_endpoint"]["hostname"] == "127.0.0.1"
    assert req["traffic"]["bytes_out"] == 321 and req["unmapped"]["redactions"] == {"github-pat": 1}
    dec = by_type["decision"]
    assert dec["class_uid"] == 0 and dec["unmapped"]["decided_by"] == "rule:rm -rf (AGENTS.md:3)"
    assert cmd["metadata"]["uid"] == f"{A}:3" and cmd["time"] == 1741082403000
