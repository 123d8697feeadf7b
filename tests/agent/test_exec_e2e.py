"""``codeward exec`` end to end: the real program, a real loopback model server, a real git repo.

For each approval mode and both wire APIs, which edits and commands happen (DESIGN §4), what the
event stream shows (§7), and that what the server received is exactly what the egress events say.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import FAKE_KEY, codeward, sha256, write_config

PATCH = '*** Begin Patch\n*** Add File: hello.py\n+print("hello from codeward")\n*** End Patch\n'
SCRIPT = [
    {"tool": "apply_patch", "args": {"input": PATCH}},
    {"tool": "shell", "args": {"command": "python3 hello.py > out.txt"}},
    {"tool": "read_file", "args": {"path": "hello.py"}},
    {"text": "all done"},
]

pytestmark = pytest.mark.sandbox


@pytest.fixture(params=["chat", "responses"])
def wire(request) -> str:
    return request.param


@pytest.mark.parametrize(
    ("mode", "edits", "commands"),
    [("suggest", False, False), ("auto-edit", True, False), ("full-auto", True, True)],
)
def test_approval_modes(model_server, git_repo, cw_home, wire, mode, edits, commands):
    model_server.script(SCRIPT)
    write_config(cw_home, model_server.url, wire)
    run = codeward("exec", "--json", "-a", mode, "create hello.py and run it", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert (git_repo / "hello.py").exists() is edits
    assert (git_repo / "out.txt").exists() is commands
    if commands:
        assert (git_repo / "out.txt").read_text() == "hello from codeward\n"

    [change] = run.items("file_change")
    # Codex's shapes: absolute paths, and the command line as executed
    assert change["changes"] == [{"path": str((git_repo / "hello.py").resolve()), "kind": "add"}]
    assert change["status"] == ("completed" if edits else "declined")
    started = [e["item"] for e in run.events if e["type"] == "item.started" and e["item"]["type"] == "file_change"]
    if edits:  # an applied patch starts (in_progress) before it completes, like a command
        assert [(s["id"], s["status"]) for s in started] == [(change["id"], "in_progress")]
    else:
        assert started == []
    [cmd] = run.items("command_execution")
    assert cmd["command"] == "bash -c 'python3 hello.py > out.txt'"
    assert cmd["status"] == ("completed" if commands else "declined")
    assert cmd["exit_code"] == (0 if commands else None)
    assert run.items("agent_message")[-1]["text"] == "all done"

    types = [e["type"] for e in run.events]
    assert types[0] == "thread.started" and types[1] == "turn.started" and types[-1] == "turn.completed"
    usage = run.events[-1]["usage"]
    # Codex's turn.completed usage: cached and reasoning tokens read from both wire APIs' details
    assert usage == {"input_tokens": 48, "cached_input_tokens": 8, "output_tokens": 20, "reasoning_output_tokens": 12}

    # what went back to the model about the decisions
    reqs = model_server.requests
    assert len(reqs) == 4
    after_patch, after_cmd = reqs[1].body, reqs[2].body
    if edits:
        assert "Success. Updated the following files" in after_patch
    else:
        assert "declined: " in after_patch and "no terminal to ask" in after_patch and "-a auto-edit" in after_patch
    if commands:
        assert "exit code: 0" in after_cmd
    else:
        assert "declined: " in after_cmd and "no terminal to ask" in after_cmd and "-a full-auto" in after_cmd
    if edits:
        assert "hello from codeward" in reqs[3].body  # read_file content reached the model


def test_egress_events_match_the_bytes_the_server_received(model_server, git_repo, cw_home, wire):
    model_server.script(SCRIPT)
    write_config(cw_home, model_server.url, wire)
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    egress = [e for e in run.events if e["type"] == "egress"]
    reqs = model_server.requests
    assert [e["sha256"] for e in egress] == [sha256(r.body) for r in reqs]
    assert [e["bytes"] for e in egress] == [len(r.body.encode()) for r in reqs]
    assert all(e["host"] == f"127.0.0.1:{model_server.port}" for e in egress)
    assert egress[3]["files"] == ["hello.py"]  # the last request carries read_file's content
    for r in reqs:
        assert r.headers["authorization"] == f"Bearer {FAKE_KEY}"
        body = r.json
        if wire == "responses":
            assert r.path == "/v1/responses" and body["store"] is False
        else:
            assert r.path == "/v1/chat/completions" and "store" not in body
    assert FAKE_KEY not in run.stdout + run.stderr


def test_disallowed_command_is_refused_even_in_full_auto(model_server, git_repo, cw_home):
    (git_repo / "AGENTS.md").write_text('# rules\n\ndisallow_commands:\n- "rm -rf"\n')
    (git_repo / "build").mkdir()
    (git_repo / "build" / "keep.txt").write_text("x")
    model_server.script([{"tool": "shell", "args": {"command": "cd build && /bin/rm -fr ../build"}}, {"text": "ok"}])
    write_config(cw_home, model_server.url)
    run = codeward("exec", "--json", "-a", "full-auto", "clean up", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert (git_repo / "build" / "keep.txt").exists()
    [cmd] = run.items("command_execution")
    assert cmd["status"] == "declined"
    sent = model_server.requests[1].body
    assert "refused" in sent and "rm -rf" in sent and "AGENTS.md:4" in sent


def test_allow_commands_narrow_full_auto(model_server, git_repo, cw_home):
    model_server.script(
        [
            {"tool": "shell", "args": {"command": "echo allowed > a.txt"}},
            {"tool": "shell", "args": {"command": "touch b.txt"}},
            {"text": "ok"},
        ]
    )
    write_config(cw_home, model_server.url, extra='[policy]\nallow_commands = ["echo"]')
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert (git_repo / "a.txt").read_text() == "allowed\n"
    assert not (git_repo / "b.txt").exists()
    assert [c["status"] for c in run.items("command_execution")] == ["completed", "declined"]


def test_prompt_from_stdin_output_file_and_plain_output(model_server, git_repo, cw_home):
    model_server.script([{"text": "the answer"}])
    write_config(cw_home, model_server.url)
    out = git_repo.parent / "last.txt"
    run = codeward("exec", "-o", str(out), "-", cwd=git_repo, input="what is it?\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "the answer\n"  # without --json, only the final message is on stdout
    assert out.read_text() == "the answer\n"
    assert "what is it?" in model_server.requests[0].body
    assert "-> sent" in run.stderr


def test_prompt_argument_plus_piped_stdin(model_server, git_repo, cw_home):
    model_server.script([{"text": "ok"}])
    write_config(cw_home, model_server.url)
    run = codeward("exec", "summarize", cwd=git_repo, input="line one\nline two\n")
    assert run.returncode == 0, run.stderr
    assert "summarize\\n\\n<stdin>\\nline one" in model_server.requests[0].body


def test_step_limit_fails_the_turn_with_exit_1(model_server, git_repo, cw_home):
    model_server.script([{"tool": "list_dir", "args": {}}] * 5)
    write_config(cw_home, model_server.url, extra="max_steps = 2")
    run = codeward("exec", "--json", "loop forever", cwd=git_repo)
    assert run.returncode == 1
    failed = [e for e in run.events if e["type"] == "turn.failed"]
    assert "stopped after 2 model requests" in failed[0]["error"]["message"]


def test_usage_and_config_errors_exit_2(model_server, git_repo, cw_home):
    write_config(cw_home, model_server.url, extra='approval_mode = "yolo"')
    run = codeward("exec", "hi", cwd=git_repo)
    assert run.returncode == 2
    assert "config.toml:3: approval_mode = 'yolo': expected one of suggest, auto-edit, full-auto" in run.stderr
    assert "Traceback" not in run.stderr
    write_config(cw_home, model_server.url)
    assert codeward("exec", cwd=git_repo).returncode == 2  # no prompt at all
    assert codeward("exec", "-a", "sometimes", "hi", cwd=git_repo).returncode == 2
    assert model_server.requests == []


def test_missing_key_is_a_clear_error(model_server, git_repo, cw_home):
    write_config(cw_home, model_server.url)
    run = codeward("exec", "hi", cwd=git_repo, env={"SCRIPTED_KEY": ""})
    assert run.returncode == 2
    assert "no API key for provider 'scripted': set $SCRIPTED_KEY, run codeward login --provider scripted" in run.stderr


def test_dry_run_prints_the_gated_request_and_sends_nothing(model_server, git_repo, cw_home, wire):
    (git_repo / "AGENTS.md").write_text("Use tabs.\n")
    write_config(cw_home, model_server.url, wire)
    run = codeward("exec", "--dry-run", "fix the build", cwd=git_repo, env={"SCRIPTED_KEY": ""})
    assert run.returncode == 0, run.stderr
    assert model_server.requests == []
    body = json.loads(run.stdout)
    assert body["model"] == "scripted-model"
    assert "fix the build" in run.stdout and "Use tabs." in run.stdout
    assert f"POST {model_server.url}" in run.stderr and "nothing was sent" in run.stderr
    assert "would send" in run.stderr and "-> sent" not in run.stderr
    if wire == "responses":
        assert body["store"] is False


def test_resume_last_continues_the_saved_conversation(model_server, git_repo, cw_home):
    model_server.script([{"text": "first answer"}, {"text": "second answer"}])
    write_config(cw_home, model_server.url)
    assert codeward("exec", "remember the number 4217", cwd=git_repo).returncode == 0
    run = codeward("exec", "resume", "--last", "what was the number?", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    second = model_server.requests[1].body
    assert "remember the number 4217" in second and "first answer" in second and "what was the number?" in second
    saved = list((cw_home / "sessions").glob("*/*/*/*.jsonl"))
    assert len(saved) == 1 and oct(saved[0].stat().st_mode & 0o777) == "0o600"


def test_history_persistence_none_writes_no_session(model_server, git_repo, cw_home):
    model_server.script([{"text": "ok"}])
    write_config(cw_home, model_server.url, extra='[history]\npersistence = "none"')
    assert codeward("exec", "hi", cwd=git_repo).returncode == 0
    assert not list(Path(cw_home).glob("sessions/**/*.jsonl"))


def test_malformed_stream_fails_the_turn_with_a_clear_message(model_server, git_repo, cw_home, wire):
    model_server.script([{"malformed": True}])
    write_config(cw_home, model_server.url, wire)
    run = codeward("exec", "--json", "hi", cwd=git_repo)
    assert run.returncode == 1
    [failed] = [e for e in run.events if e["type"] == "turn.failed"]
    assert "malformed stream" in failed["error"]["message"] and "not JSON" in failed["error"]["message"]
    assert len(model_server.requests) == 1  # not retried: it would fail the same way
    assert "Traceback" not in run.stderr


def test_429_then_success_reconnects_and_completes(model_server, git_repo, cw_home, wire):
    model_server.script([{"status": 429, "retry_after": "0", "message": "rate limited"}, {"text": "made it"}])
    write_config(cw_home, model_server.url, wire)
    run = codeward("exec", "--json", "hi", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    notes = [e["message"] for e in run.events if e["type"] == "error"]
    assert any("Reconnecting" in n and "HTTP 429" in n and "rate limited" in n for n in notes)
    assert run.items("agent_message")[-1]["text"] == "made it"
    assert len([e for e in run.events if e["type"] == "egress"]) == 1  # one request, sent twice


def test_dead_endpoint_exits_1_naming_it(git_repo, cw_home):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    write_config(cw_home, url)
    run = codeward("exec", "hi", cwd=git_repo)
    assert run.returncode == 1
    assert f"error: cannot reach {url} - is the server running and the baseURL right?" in run.stderr
    assert "Traceback" not in run.stderr


def test_agents_md_text_goes_out_unless_an_ignore_rule_hides_it(model_server, git_repo, cw_home):
    (git_repo / "AGENTS.md").write_text("Always run make lint.\n")
    (git_repo / "sub").mkdir()
    (git_repo / "sub" / "AGENTS.md").write_text("Private notes for sub.\n")
    (git_repo / ".codexignore").write_text("sub/AGENTS.md\n")
    write_config(cw_home, model_server.url)
    model_server.script([{"text": "ok"}])
    run = codeward("exec", "hi", cwd=git_repo / "sub")
    assert run.returncode == 0, run.stderr
    first = model_server.requests[0].body
    assert "Always run make lint." in first and "Private notes" not in first
    assert "sub/AGENTS.md is not sent to the model: hidden by the rule 'sub/AGENTS.md'" in run.stderr


def test_dry_run_exits_cleanly_while_the_workspace_scan_still_runs(git_repo: Path, cw_home: Path) -> None:
    """The background secret scan must be stopped before the interpreter exits: a thread still in
    the scanner's C++ code at shutdown aborted the process (exit 134) right after a dry run."""
    for i in range(1500):
        d = git_repo / f"pkg{i % 30}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x * {i}  # ordinary code\n" * 40)
    for _ in range(3):
        r = codeward("exec", "--dry-run", "explain", cwd=git_repo, env={"CODEWARD_HOME": str(cw_home)})
        assert r.returncode == 0, r.stderr[-300:]
        for cache in (cw_home / "cache").glob("*"):
            cache.unlink()  # no cache: every run walks the tree from scratch
