"""The audit sink: where records go, with which permissions, what a crash leaves, what is scrubbed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from codeward.audit import open_session_audit
from codeward.audit.scrub import KEY_PLACEHOLDER, UNSCANNED, Scrubber
from codeward.audit.verify import verify_file
from codeward.audit.writer import AuditSink, AuditWriteError
from codeward.auth.keys import remember_secret
from codeward.config.model import AuditConfig, Config
from codeward.errors import UsageError

SID = "5e5e5e5e-0000-4000-8000-000000000001"
GHP = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def events(sink: AuditSink, *, end: bool = True) -> None:
    sink.write_event({"type": "session.started", "session_id": SID, "provider": "fake", "model": "m"})
    sink.write_event({"type": "thread.started", "thread_id": SID})
    sink.write_event({"type": "turn.started"})
    sink.write_event(
        {"type": "egress", "host": "127.0.0.1", "bytes": 10, "sha256": "a" * 64, "files": [], "redactions": {}}
    )
    sink.write_event({"type": "response.received", "usage": {}, "duration_ms": 3.0, "tool_calls": ["shell"]})
    sink.write_event(
        {"type": "decision", "action": "command", "target": "ls", "decision": "allow", "decided_by": "mode:full-auto"}
    )
    sink.write_event(
        {"type": "command.executed", "argv": ["bash", "-c", "ls"], "tier": "bwrap", "exit_code": 0, "duration_ms": 5.0}
    )
    sink.write_event(
        {"type": "file.changed", "path": "a.txt", "kind": "add", "sha256_before": None, "sha256_after": "b" * 64}
    )
    sink.write_event({"type": "item.completed", "item": {"type": "agent_message", "text": "done"}})
    sink.write_event({"type": "turn.completed", "usage": {"input_tokens": 1}})
    if end:
        sink.write_event({"type": "session.ended", "status": "completed", "usage": {}})


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_session_log_layout_permissions_and_contents(cw_home: Path) -> None:
    os.umask(0o022)
    sink = open_session_audit(Config(), SID)
    assert sink is not None
    events(sink)
    sink.close()
    path = sink.path
    assert path is not None and path.name == f"{SID}.jsonl"
    rel = path.relative_to(cw_home / "logs")
    assert len(rel.parts) == 4 and len(rel.parts[0]) == 4  # YYYY/MM/DD/<id>.jsonl
    assert mode(path) == 0o600
    d = path.parent
    while d != cw_home:
        assert mode(d) == 0o700, d
        d = d.parent
    types = [r["type"] for r in records(path)]
    assert types == [
        "session.start",
        "turn.start",
        "request.sent",
        "response",
        "decision",
        "command",
        "file.change",
        "turn.end",
        "session.end",
        "seal",
    ]
    cmd = records(path)[5]
    assert cmd["argv"] == ["bash", "-c", "ls"] and cmd["tier"] == "bwrap" and cmd["exit_code"] == 0
    assert verify_file(path, SID).ok


def test_extra_file_gets_the_same_bytes(cw_home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "ci-audit.jsonl"
    extra.write_text("old content\n")
    sink = open_session_audit(Config(), SID, extra=extra)
    assert sink is not None
    events(sink)
    sink.close()
    assert extra.read_bytes() == sink.path.read_bytes()  # type: ignore[union-attr]
    assert mode(extra) == 0o600
    assert verify_file(extra).ok


def test_disabled_audit_writes_nothing_unless_an_extra_file_is_asked_for(cw_home: Path, tmp_path: Path) -> None:
    off = replace(Config(), audit=AuditConfig(enabled=False))
    assert open_session_audit(off, SID) is None
    extra = tmp_path / "only.jsonl"
    sink = open_session_audit(off, SID, extra=extra)
    assert sink is not None
    events(sink)
    sink.close()
    assert verify_file(extra).ok
    assert not (cw_home / "logs").exists()


def test_audit_dir_setting(cw_home: Path, tmp_path: Path) -> None:
    cfg = replace(Config(), audit=AuditConfig(dir=str(tmp_path / "audit")))
    sink = open_session_audit(cfg, SID)
    events(sink)  # type: ignore[arg-type]
    sink.close()  # type: ignore[union-attr]
    assert sink.path.is_relative_to(tmp_path / "audit")  # type: ignore[union-attr]


def test_extra_in_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        open_session_audit(Config(), SID, extra=tmp_path / "nope" / "a.jsonl")


def test_no_event_no_file(cw_home: Path) -> None:
    sink = open_session_audit(Config(), SID)
    sink.write_event({"type": "thread.started", "thread_id": SID})  # type: ignore[union-attr]
    sink.close()  # type: ignore[union-attr]
    assert not (cw_home / "logs").exists()


def test_close_without_session_end_seals_as_incomplete(cw_home: Path) -> None:
    sink = open_session_audit(Config(), SID)
    events(sink, end=False)  # type: ignore[arg-type]
    sink.close()  # type: ignore[union-attr]
    sink.close()  # type: ignore[union-attr]
    recs = records(sink.path)  # type: ignore[union-attr]
    assert recs[-2]["type"] == "session.end" and recs[-2]["status"] == "incomplete"
    res = verify_file(sink.path)  # type: ignore[union-attr, arg-type]
    assert res.ok and res.end_status == "incomplete"


def test_events_after_the_seal_are_ignored(cw_home: Path) -> None:
    sink = open_session_audit(Config(), SID)
    events(sink)  # type: ignore[arg-type]
    n = len(records(sink.path))  # type: ignore[union-attr]
    sink.write_event({"type": "error", "message": "late"})  # type: ignore[union-attr]
    assert len(records(sink.path)) == n  # type: ignore[union-attr]


def test_first_event_other_than_session_start_gets_a_header(cw_home: Path) -> None:
    sink = open_session_audit(Config(), SID)
    sink.write_event({"type": "error", "message": "early"})  # type: ignore[union-attr]
    sink.close()  # type: ignore[union-attr]
    recs = records(sink.path)  # type: ignore[union-attr]
    assert [r["type"] for r in recs] == ["session.start", "error", "session.end", "seal"]
    assert recs[0]["session_id"] == SID


def test_a_hard_crash_loses_nothing_written_and_verify_reports_no_seal(cw_home: Path, tmp_path: Path) -> None:
    prog = textwrap.dedent(
        f"""
        import os
        from codeward.audit import open_session_audit
        from codeward.config.model import Config
        sink = open_session_audit(Config(), {SID!r})
        sink.write_event({{"type": "session.started", "provider": "p"}})
        for i in range(5):
            sink.write_event({{"type": "command.executed", "argv": ["echo", str(i)], "exit_code": 0}})
        print(sink.path, flush=True)
        os._exit(9)  # no close(), no flush of anything buffered
        """
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=os.environ, check=False)
    assert out.returncode == 9, out.stderr
    path = Path(out.stdout.strip())
    recs = records(path)
    assert len(recs) == 6 and recs[-1]["argv"] == ["echo", "4"]
    res = verify_file(path, SID)
    assert res.problem is not None and res.problem.kind == "unsealed" and res.records == 6


def test_write_failure_stops_everything_after_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    sink = AuditSink(SID, logs_dir=blocker / "logs")
    with pytest.raises(AuditWriteError, match="audit log not written"):
        sink.write_event({"type": "session.started"})
    with pytest.raises(AuditWriteError):
        sink.write_event({"type": "egress", "host": "h"})
    sink.close()


def test_keys_and_secrets_are_scrubbed_from_records(cw_home: Path) -> None:
    key = "sk-proj-scrubme-0123456789abcdef"
    remember_secret(key)
    sink = open_session_audit(Config(), SID)
    sink.write_event({"type": "session.started"})  # type: ignore[union-attr]
    sink.write_event({"type": "command.executed", "argv": ["bash", "-c", f"curl -H 'Authorization: Bearer {key}' x"]})  # type: ignore[union-attr]
    sink.write_event({"type": "decision", "target": f"export GH={GHP}", "decision": "ask"})  # type: ignore[union-attr]
    sink.write_event({"type": "error", "message": f"failed with {key}"})  # type: ignore[union-attr]
    sink.close()  # type: ignore[union-attr]
    text = sink.path.read_text()  # type: ignore[union-attr]
    assert key not in text and GHP not in text
    assert KEY_PLACEHOLDER in text and "<redacted:github-pat>" in text
    assert verify_file(sink.path).ok  # type: ignore[arg-type, union-attr]


def test_scrubber_fails_closed_and_keeps_digests() -> None:
    def broken(_: str) -> list:  # type: ignore[type-arg]
        raise RuntimeError("scanner died")

    s = Scrubber(lambda: {"sk-known-123456789"}, broken)
    assert s.fields({"message": "some text here"}) == {"message": UNSCANNED}
    assert s.fields({"sha256": "c" * 64, "n": 3, "short": "ok"}) == {"sha256": "c" * 64, "n": 3, "short": "ok"}
    assert Scrubber(lambda: {"sk-known-123456789"}).text("x sk-known-123456789 y") == f"x {KEY_PLACEHOLDER} y"


def test_relative_audit_dir_is_under_the_codeward_home(cw_home: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from codeward.audit.store import logs_dir

    monkeypatch.chdir(tmp_path)
    assert logs_dir(replace(Config(), audit=AuditConfig(dir="audit-logs"))) == cw_home / "audit-logs"
    assert logs_dir(Config()) == cw_home / "logs"
