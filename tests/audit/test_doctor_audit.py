"""doctor's audit-trail check: what the audit log can prove on this machine, in plain words."""

from __future__ import annotations

import os
from pathlib import Path

from codeward.audit.keys import setup_keys, state_path
from codeward.config.model import AuditConfig, Config
from codeward.doctor.checks import check_audit_trail
from codeward.doctor.model import DoctorContext, PathPerm


def ctx(home: Path, **audit: object) -> DoctorContext:
    cfg = Config(audit=AuditConfig(**audit))  # type: ignore[arg-type]
    return DoctorContext(
        config=cfg, config_error=None, root=Path("/w"), home=home, env={}, logs=PathPerm(home / "logs", True, 0o700)
    )


def test_unkeyed_warns_and_says_what_is_not_proven(tmp_path: Path) -> None:
    r = check_audit_trail(ctx(tmp_path))
    assert r.status == "warn" and "not sealed with a key" in r.detail and "only copy is on this machine" in r.detail
    assert r.fix and "codeward logs setup-keys" in r.fix


def test_keyed_passes_and_names_the_sink(tmp_path: Path) -> None:
    _, state = setup_keys(tmp_path)
    r = check_audit_trail(ctx(tmp_path))
    assert r.status == "pass" and state.key_id in r.detail and "only copy is on this machine" in r.detail
    r = check_audit_trail(ctx(tmp_path, sink="syslog+tcp://127.0.0.1:6514"))
    assert r.status == "pass" and "streamed to syslog+tcp://127.0.0.1:6514" in r.detail


def test_loose_or_broken_state_fails(tmp_path: Path) -> None:
    setup_keys(tmp_path)
    os.chmod(state_path(tmp_path), 0o644)
    r = check_audit_trail(ctx(tmp_path))
    assert r.status == "fail" and r.fix == f"chmod 600 {state_path(tmp_path)}"
    state_path(tmp_path).write_text("garbage")
    r = check_audit_trail(ctx(tmp_path))
    assert r.status == "fail" and "malformed" in r.detail


def test_queued_records_warn(tmp_path: Path) -> None:
    setup_keys(tmp_path)
    (tmp_path / "logs" / "ship").mkdir(parents=True)
    (tmp_path / "logs" / "ship" / "s.cursor").write_text("3")
    r = check_audit_trail(ctx(tmp_path, sink="http://127.0.0.1:9/x"))
    assert r.status == "warn" and r.fix == "codeward logs ship"
