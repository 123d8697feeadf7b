"""Shipping records to a collector codeward does not control: a real rsyslog and an HTTP endpoint.

A collector that is down (stopped mid-run, or never up) loses nothing and receives nothing twice;
``require_sink`` refuses to start without one; a kill -9 leaves a queue that ``logs ship`` delivers
and a gap that ``logs verify`` explains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.audit.collectors import HttpCollector, Rsyslog, free_port
from tests.support.cli import FAKE_KEY, codeward, write_config
from tests.support.cw_subprocess import REPO, run_cw

from codeward.audit.ship import Shipper
from codeward.audit.sinks import syslog_frame, transport_for
from codeward.audit.writer import AuditSink

SID = "aaaa1111-0000-4000-8000-000000000001"


def local_records(cw_home: Path, sid: str | None = None) -> list[dict]:
    import json

    logs = [p for p in (cw_home / "logs").rglob("*.jsonl") if sid is None or p.stem == sid]
    assert len(logs) == 1, logs
    return [json.loads(ln) for ln in logs[0].read_text().splitlines()]


def wait_file(p: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not p.exists():
        assert time.monotonic() < deadline, f"{p} never appeared"
        time.sleep(0.05)


def test_syslog_frame_is_rfc5424_octet_counted() -> None:
    line = b'{"seq":4,"ts":"2025-03-04T10:00:00.000Z","sid":"s-1","type":"command","prev":"x","hash":"y"}'
    frame = syslog_frame(line, "host", 42)
    length, _, msg = frame.partition(b" ")
    assert int(length) == len(msg)
    assert msg == (
        b'<110>1 2025-03-04T10:00:00.000Z host codeward 42 command [codeward@32473 sid="s-1" seq="4"] ' + line
    )


def test_sink_url_errors_name_the_key() -> None:
    from codeward.errors import UsageError

    for bad in ("syslog+tcp://host", "ftp://x", "nonsense"):
        with pytest.raises(UsageError, match=r"\[audit\] sink"):
            transport_for(bad)


def test_rsyslog_stopped_and_restarted_mid_session_loses_and_doubles_nothing(cw_home: Path, tmp_path: Path) -> None:
    rs = Rsyslog(tmp_path / "rs")
    rs.start()
    try:
        shipper = Shipper(transport_for(rs.url), cw_home / "logs", SID, drain_s=10)
        sink = AuditSink(SID, logs_dir=cw_home / "logs", seal_home=cw_home, shipper=shipper)
        sink.write_event({"type": "session.started", "provider": "fake"})
        for i in range(5):
            sink.write_event({"type": "command.executed", "argv": ["echo", str(i)], "exit_code": 0})
        assert len(rs.wait_for(6)) == 6
        rs.stop()
        time.sleep(0.3)
        for i in range(5, 10):  # written while the collector is down
            sink.write_event({"type": "command.executed", "argv": ["echo", str(i)], "exit_code": 0})
        time.sleep(0.5)
        assert len(rs.records()) == 6 and shipper.error
        rs.start()
        for i in range(10, 13):
            sink.write_event({"type": "command.executed", "argv": ["echo", str(i)], "exit_code": 0})
        sink.write_event({"type": "session.ended", "status": "completed"})
        sink.close()
    finally:
        rs.stop()
    got = rs.records()
    local = local_records(cw_home)
    assert [r["seq"] for r in got] == list(range(len(local)))
    assert got == local
    assert not list((cw_home / "logs" / "ship").glob("*.cursor"))  # fully delivered: nothing queued


@pytest.mark.sandbox
def test_whole_exec_run_reaches_rsyslog_across_a_restart(model_server, git_repo, cw_home, tmp_path) -> None:
    rs = Rsyslog(tmp_path / "rs")
    rs.start()
    write_config(cw_home, model_server.url, extra=f'[audit]\nsink = "{rs.url}"\nrequire_sink = true\n')
    wait = "touch stage{n}; while [ ! -f go{n} ]; do sleep 0.05; done; echo step{n}"
    model_server.script(
        [
            {"tool": "shell", "args": {"command": wait.format(n=1)}},
            {"tool": "shell", "args": {"command": wait.format(n=2)}},
            {"tool": "shell", "args": {"command": "echo after"}},
            {"text": "all done"},
        ]
    )
    env = {**os.environ, "SCRIPTED_KEY": FAKE_KEY, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeward", "exec", "-a", "full-auto", "go"],
        cwd=git_repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_file(git_repo / "stage1")
        before = len(rs.wait_for(4))
        time.sleep(0.3)
        rs.stop()  # down from the middle of the first command ...
        (git_repo / "go1").touch()
        wait_file(git_repo / "stage2")
        time.sleep(0.3)
        during = len(rs.records())  # what the collector had when it went down
        rs.start()  # ... back during the second
        (git_repo / "go2").touch()
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        if rs.proc:
            rs.stop()
    assert proc.returncode == 0, err.decode()
    local = local_records(cw_home)
    rs_records = rs.records()
    assert before >= 4
    # the first command's result and the second request were written while it was down
    assert {"command", "request.sent"} <= {r["type"] for r in local[during:]}
    assert [r["seq"] for r in rs_records] == list(range(len(local))), "lost or doubled records"
    assert rs_records == local
    assert [r["type"] for r in local].count("command") == 3


def test_require_sink_refuses_to_start_without_one(model_server, git_repo, cw_home) -> None:
    port = free_port()  # nothing listens there
    write_config(
        cw_home, model_server.url, extra=f'[audit]\nsink = "syslog+tcp://127.0.0.1:{port}"\nrequire_sink = true\n'
    )
    model_server.script([{"text": "hi"}])
    run = codeward("exec", "hello", cwd=git_repo)
    assert run.returncode == 2
    assert f"the audit sink syslog+tcp://127.0.0.1:{port} cannot be reached" in run.stderr
    assert "Traceback" not in run.stderr and model_server.requests == []
    # control: without require_sink the same run goes ahead and queues its records
    write_config(cw_home, model_server.url, extra=f'[audit]\nsink = "syslog+tcp://127.0.0.1:{port}"\n')
    run = codeward("exec", "hello", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert list((cw_home / "logs" / "ship").glob("*.cursor"))


def test_http_sink_down_then_up_delivers_everything_once(cw_home: Path) -> None:
    col = HttpCollector()
    try:
        col.down = True
        shipper = Shipper(transport_for(col.url), cw_home / "logs", SID, drain_s=0.5)
        sink = AuditSink(SID, logs_dir=cw_home / "logs", shipper=shipper)
        sink.write_event({"type": "session.started", "provider": "fake"})
        sink.write_event({"type": "command.executed", "argv": ["make"], "exit_code": 0})
        sink.write_event({"type": "session.ended", "status": "completed"})
        sink.close()
        assert col.refused >= 1 and col.lines == []
        assert list((cw_home / "logs" / "ship").glob(f"{SID}.cursor"))  # queued on disk
        col.down = False
        write_config(cw_home, "http://127.0.0.1:9/v1", extra=f'[audit]\nsink = "{col.url}"\n')
        r = run_cw("logs", "ship")
        assert r.returncode == 0 and "delivered 4 queued records" in r.stdout, r.stdout + r.stderr
        assert col.lines == local_records(cw_home)
        r = run_cw("logs", "ship")  # nothing twice
        assert "delivered 0" in r.stdout and len(col.lines) == 4
    finally:
        col.close()


@pytest.mark.sandbox
def test_kill_9_mid_run_queue_is_delivered_and_verify_explains_the_gap(model_server, git_repo, cw_home, tmp_path):
    rs = Rsyslog(tmp_path / "rs")  # configured, but down for the whole run
    write_config(cw_home, model_server.url, extra=f'[audit]\nsink = "{rs.url}"\n')
    assert run_cw("logs", "setup-keys").returncode == 0
    key = run_cw("logs", "setup-keys", "--force").stdout.strip()
    model_server.script([{"tool": "shell", "args": {"command": "touch stage1; sleep 60"}}, {"text": "never"}])
    env = {**os.environ, "SCRIPTED_KEY": FAKE_KEY, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeward", "exec", "-a", "full-auto", "go"],
        cwd=git_repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_file(git_repo / "stage1")
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    local = local_records(cw_home)
    assert local[-1]["type"] != "seal"
    r = run_cw("logs", "verify", "--all", "--verification-key", key)
    assert r.returncode == 1
    [fail] = [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")]
    assert "codeward stopped without ending the session (killed or crashed)" in fail
    assert f"after {len(local)} records" in fail

    rs.start()
    try:
        r = run_cw("logs", "ship")
        assert r.returncode == 0, r.stdout
        assert rs.wait_for(len(local)) == local
        assert run_cw("logs", "ship").stdout.startswith("delivered 0")
        assert not list((cw_home / "logs" / "ship").glob("*.cursor"))  # the killed session's queue is done
        time.sleep(0.3)
        assert rs.records() == local
    finally:
        rs.stop()


def test_otlp_logs_sink(cw_home: Path) -> None:
    col = HttpCollector()
    try:
        shipper = Shipper(transport_for(col.otlp_url), cw_home / "logs", SID, drain_s=5)
        assert shipper.transport.url.endswith(f":{col.httpd.server_address[1]}/v1/logs")
        sink = AuditSink(SID, logs_dir=cw_home / "logs", shipper=shipper)
        sink.write_event({"type": "session.started", "provider": "fake"})
        sink.write_event({"type": "command.executed", "argv": ["make"], "exit_code": 0})
        sink.write_event({"type": "session.ended", "status": "completed"})
        sink.close()
        assert col.lines == local_records(cw_home)
        rec = col.otlp[-1]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][-1]
        attrs = {a["key"]: a["value"] for a in rec["attributes"]}
        assert attrs["codeward.session_id"] == {"stringValue": SID}
        assert attrs["codeward.record_type"] == {"stringValue": "seal"} and rec["severityNumber"] == 9
        assert int(rec["timeUnixNano"]) > 1_700_000_000 * 10**9
    finally:
        col.close()


def test_bad_audit_config_values_name_the_key(model_server, git_repo, cw_home) -> None:
    write_config(cw_home, model_server.url, extra='[audit]\nrequire_sink = "yes"\n')
    run = codeward("exec", "hello", cwd=git_repo)
    assert run.returncode == 2 and "require_sink" in run.stderr and "Traceback" not in run.stderr
    write_config(cw_home, model_server.url, extra='[audit]\nsink = "ftp://x"\n')
    run = codeward("exec", "hello", cwd=git_repo)
    assert run.returncode == 2 and "[audit] sink = 'ftp://x'" in run.stderr
    write_config(cw_home, model_server.url, extra="[audit]\nrequire_sink = true\n")
    run = codeward("exec", "hello", cwd=git_repo)
    assert run.returncode == 2 and "no [audit] sink is set" in run.stderr
    assert model_server.requests == []


def test_a_token_in_the_sink_url_is_never_printed(cw_home: Path) -> None:
    from codeward.audit.sinks import shown

    assert shown("https://bot:s3cr3t-token@siem.example:8443/in") == "https://***@siem.example:8443/in"
    assert shown("syslog+tcp://127.0.0.1:514") == "syslog+tcp://127.0.0.1:514"
    port = free_port()
    write_config(
        cw_home, "http://127.0.0.1:9/v1", extra=f'[audit]\nsink = "http://bot:s3cr3t-token@127.0.0.1:{port}/x"\n'
    )
    (cw_home / "logs" / "ship").mkdir(parents=True)
    r = run_cw("logs", "ship")
    assert r.returncode == 0 and "s3cr3t" not in r.stdout + r.stderr and "***@127.0.0.1" in r.stdout
