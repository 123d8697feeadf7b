"""Every connection a command makes through the ``allowed_domains`` proxy is an event and an audit record.

The user allows one loopback listener by address; a command in full-auto sends bytes to it through
the proxy and also asks for a host that is not listed. The session's events (and the audit log fed
from them) must name both: the allowed one with the bytes that crossed, the refused one with why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Listener

from codeward.agent.session import build_session
from codeward.config.load import ConfigOverrides
from codeward.events import EventBus, ListSink
from codeward.providers.types import ToolCall
from codeward.tools.asking import NoTerminalApprover

pytestmark = pytest.mark.sandbox

CLIENT = r"""
import os, socket, sys
proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
def connect(target):
    s = socket.create_connection((proxy[0].split("//")[-1], int(proxy[1])), timeout=5)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = s.recv(4096).split(b"\r\n")[0]
    return s, head
s, head = connect(sys.argv[1])
print("allowed:", head.decode())
if b" 200" in head:
    s.sendall(b"x" * 1234)
s.close()
s, head = connect("not-listed.example:443")
print("other:", head.decode())
"""


@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_proxied_connections_are_events(tier: str, git_repo: Path, cw_home: Path) -> None:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    listener = Listener("tcp")
    (cw_home / "config.toml").write_text(
        f'[sandbox]\ntier = "{tier}"\nallowed_domains = ["127.0.0.1:{listener.port}"]\n'
    )
    (git_repo / "client.py").write_text(CLIENT)
    bus = EventBus()
    sink = ListSink()
    bus.add(sink)
    audits: list[Any] = []

    def attach_audit(project: Any, run_id: str) -> None:
        from codeward.audit import open_session_audit

        audits.append(open_session_audit(project.config, run_id, scan=project.scanner.scan))
        bus.add(audits[-1])

    session = build_session(
        git_repo,
        ConfigOverrides(approval_mode="full-auto"),
        events=bus,
        approver=NoTerminalApprover(),
        need_key=False,
        persist=False,
        on_project=attach_audit,
    )
    args = {"command": f"python3 client.py 127.0.0.1:{listener.port}"}
    out = session.agent.tools.dispatch(ToolCall("c1", "shell", json.dumps(args)), session.ctx).text
    assert "allowed: HTTP/1.1 200" in out, out
    seen: dict[str, Any] = {e["host"]: e for e in sink.of_type("network.connection")}
    allowed = seen["127.0.0.1"]
    assert allowed["port"] == listener.port and allowed["refused"] is None and allowed["bytes_up"] >= 1234
    assert len(listener.received) >= 1234  # the bytes really crossed
    refused = seen["not-listed.example"]
    assert refused["refused"] and refused["bytes_up"] == 0
    audits[0].close()
    records = [json.loads(line) for line in audits[0].path.read_text().splitlines()]
    logged = [r for r in records if r.get("type") == "network.connection"]
    assert {r["host"] for r in logged} == {"127.0.0.1", "not-listed.example"}
