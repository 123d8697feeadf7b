"""The interactive session end to end: the real program in a pseudo-terminal, a person's keystrokes,
the scripted model server on loopback, and the outcome checked from outside (files on disk, what the
server received, processes left running, the audit log and the history file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tests.support.cw_subprocess import run_cw
from tests.ui.conftest import chat_messages, contents

ADD_HELLO = '*** Begin Patch\n*** Add File: hello.py\n+print("hello from codeward")\n*** End Patch\n'


@pytest.mark.parametrize("wire", ["chat", "responses"])
def test_approve_an_edit_creates_the_file(tui, git_repo, model_server, cw_home, wire):
    t = tui(steps=[{"tool": "apply_patch", "args": {"input": ADD_HELLO}}, {"text": "created hello.py"}], wire=wire)
    t.prompt()
    t.line("create hello.py")
    t.expect(r"The model wants to change hello\.py")
    t.expect(r"\+print\(\"hello from codeward\"\)")  # the diff is shown before the question
    t.expect(r"Apply this edit\? \[y\]es / \[n\]o / \[a\]lways")
    assert not (git_repo / "hello.py").exists()  # nothing happens before the answer
    t.key("y")
    t.expect(r"✓ applied: A hello\.py")
    t.expect("created hello.py")
    t.prompt()
    assert (git_repo / "hello.py").read_text() == 'print("hello from codeward")\n'
    assert "Success. Updated the following files" in model_server.requests[1].body
    t.ctrl_d()
    assert t.wait_exit() == 0

    # the approval is in the audit log, decided by the user
    logs = list((cw_home / "logs").rglob("*.jsonl"))
    records = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    decisions = [r for r in records if r["type"] == "decision" and r.get("action") == "edit"]
    assert decisions and decisions[-1]["decided_by"] == "user" and decisions[-1]["outcome"] == "allowed"
    assert any(r["type"] == "file.change" and r["path"] == "hello.py" for r in records)
    assert records[-1]["type"] == "seal" or any(r["type"] == "session.end" for r in records)


def test_reject_an_edit_with_a_reason_the_model_receives(tui, git_repo, model_server):
    t = tui(steps=[{"tool": "apply_patch", "args": {"input": ADD_HELLO}}, {"text": "understood"}])
    t.prompt()
    t.line("create hello.py")
    t.expect(r"Apply this edit\?")
    t.key("n")
    t.expect(r"reason for the model")
    t.line("call it greet.py instead")
    t.expect("understood")
    t.prompt()
    assert not (git_repo / "hello.py").exists()
    [result] = contents(model_server.requests[1].body, "tool")
    assert "declined by the user" in result and "call it greet.py instead" in result


def test_reject_without_a_reason(tui, git_repo, model_server):
    t = tui(steps=[{"tool": "apply_patch", "args": {"input": ADD_HELLO}}, {"text": "no edit made"}])
    t.prompt()
    t.line("create hello.py")
    t.expect(r"Apply this edit\?")
    t.key("n")
    t.expect(r"reason for the model")
    t.line("")
    t.expect("no edit made")
    assert not (git_repo / "hello.py").exists()
    [result] = contents(model_server.requests[1].body, "tool")
    assert result == "declined: the user did not approve this edit"


def test_always_approves_the_same_command_for_the_rest_of_the_session(tui, git_repo, model_server):
    cmd = "echo run >> log.txt"
    t = tui(
        steps=[
            {"tool": "shell", "args": {"command": cmd}},
            {"tool": "shell", "args": {"command": cmd}},
            {"tool": "shell", "args": {"command": "echo other >> other.txt"}},
            {"text": "all done"},
        ]
    )
    t.prompt()
    t.line("log twice")
    t.expect(r"\$ echo run >> log\.txt")  # the command, its directory and the policy's reason
    t.expect(rf"in {git_repo}")
    t.expect(r"why you are asked: suggest mode asks before running any command")
    t.expect(r"Run it\? \[y\]es / \[n\]o / \[a\]lways")
    t.key("a")
    t.expect(r"Run it\?")  # the third, different command is asked again
    t.key("n")
    t.line("")
    t.expect("all done")
    t.prompt()
    assert (git_repo / "log.txt").read_text() == "run\nrun\n"
    assert not (git_repo / "other.txt").exists()
    assert t.text.count("The model wants to run a command:") == 2
    assert "exit code: 0" in contents(model_server.requests[2].body, "tool")[-1]


def test_policy_denied_command_is_shown_not_asked(tui, git_repo, model_server):
    (git_repo / "AGENTS.md").write_text('disallow_commands:\n- "rm -rf"\n')
    t = tui(steps=[{"tool": "shell", "args": {"command": "rm -rf build"}}, {"text": "will not delete"}])
    t.prompt()
    t.line("clean up")
    t.expect(r"✗ refused by policy: \$ rm -rf build")
    t.expect("will not delete")
    t.prompt()
    assert "Run it?" not in t.text
    assert contents(model_server.requests[1].body, "tool")[0].startswith("refused:")


def _procs_with(token: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(int(pid))
    return found


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_ctrl_c_kills_a_running_command_and_returns_to_the_prompt(tui, git_repo, model_server, tier):
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced on this machine: {e}")
    token = uuid.uuid4().hex[:12]
    cmd = f"touch started.txt; (sleep 2; touch late.txt) & sleep 30 # {token}"
    t = tui(
        "-a",
        "full-auto",
        "-c",
        f'sandbox.tier="{tier}"',
        steps=[{"tool": "shell", "args": {"command": cmd}}, {"text": "what next?"}],
    )
    t.prompt()
    t.line("run the slow thing")
    t.expect(r"\$ touch started\.txt")
    deadline = time.monotonic() + 20
    while not (git_repo / "started.txt").exists():
        assert time.monotonic() < deadline, t.text
        time.sleep(0.05)
    assert _procs_with(token), "the command should be running"
    t.ctrl_c()
    t.expect(r"⏹ stopped: the command and everything it started were killed")
    t.expect(r"⏹ interrupted")
    t.prompt()
    deadline = time.monotonic() + 3
    while _procs_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _procs_with(token), "the command's processes outlived the cancel"
    time.sleep(2.5)  # the background writer would have written by now
    assert not (git_repo / "late.txt").exists()

    # the next turn works, and the model is told what happened
    t.line("and now?")
    t.expect("what next?")
    t.prompt()
    msgs = chat_messages(model_server.requests[-1].body)
    tool = [m for m in msgs if m["role"] == "tool"]
    assert tool and "interrupted by the user" in tool[-1]["content"]
    users = [m["content"] for m in msgs if m["role"] == "user"]
    assert users[-2].startswith("[The user interrupted the previous turn")
    assert users[-1] == "and now?"
    # the second Ctrl-C at the empty prompt after a cancelled turn exits
    t.line("/quit")
    assert t.wait_exit() == 0


def test_ctrl_c_at_an_approval_question_cancels_the_turn(tui, git_repo, model_server):
    t = tui(steps=[{"tool": "apply_patch", "args": {"input": ADD_HELLO}}, {"text": "as you wish"}])
    t.prompt()
    t.line("create hello.py")
    t.expect(r"Apply this edit\?")
    t.ctrl_c()
    t.expect(r"⏹ interrupted")
    t.prompt()
    assert not (git_repo / "hello.py").exists()
    t.line("never mind")
    t.expect("as you wish")
    msgs = chat_messages(model_server.requests[-1].body)
    assert [m["content"] for m in msgs if m["role"] == "tool"] == [
        "interrupted by the user: this tool call was stopped"
    ]


@pytest.mark.sandbox
def test_two_quick_ctrl_c_during_a_turn_exit(tui, git_repo):
    token = uuid.uuid4().hex[:12]
    t = tui("-a", "full-auto", steps=[{"tool": "shell", "args": {"command": f"touch go.txt; sleep 30 # {token}"}}])
    t.prompt()
    t.line("wait")
    deadline = time.monotonic() + 20
    while not (git_repo / "go.txt").exists():
        assert time.monotonic() < deadline, t.text
        time.sleep(0.05)
    t.ctrl_c()
    time.sleep(0.2)
    t.ctrl_c()
    assert t.wait_exit() == 0
    assert "session ended" in t.text
    assert not _procs_with(token)


def test_ctrl_c_while_waiting_for_the_model(tui, model_server):
    t = tui(steps=[{"stall": 600}, {"text": "back again"}])  # far longer than any wait below
    t.prompt()
    t.line("hello?")
    t.expect(r"waiting for 127\.0\.0\.1")
    time.sleep(0.5)
    t.ctrl_c()
    t.expect(r"⏹ interrupted")  # the stalled request was abandoned, not waited out
    t.prompt()
    t.line("still there?")
    t.expect("back again")
    t.prompt()
    users = contents(model_server.requests[-1].body, "user")
    assert users == ["hello?", users[1], "still there?"] and users[1].startswith("[The user interrupted")
    t.ctrl_c()  # at an empty prompt: asks to confirm ...
    t.expect(r"press Ctrl-C again")
    t.prompt()
    t.ctrl_c()  # ... and the second one exits
    assert t.wait_exit() == 0


def test_undo_restores_the_file_byte_for_byte(tui, git_repo, model_server, cw_home):
    original = "first line\r\nsecond line\r\nno newline at the end ✓".encode()
    (git_repo / "notes.txt").write_bytes(original)
    patch = (
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n first line\n-second line\n+second line, edited\n"
        "*** Add File: new.txt\n+brand new\n*** End Patch\n"
    )
    t = tui("-a", "auto-edit", steps=[{"tool": "apply_patch", "args": {"input": patch}}, {"text": "edits done"}])
    t.prompt()
    t.line("edit the notes")
    t.expect(r"✓ applied: M notes\.txt, A new\.txt")
    t.expect("edits done")
    t.prompt()
    assert (git_repo / "notes.txt").read_bytes() != original
    t.line("/diff")
    t.expect(r"\+second line, edited")
    t.prompt()
    t.line("/undo")
    t.expect(r"↶ reverted the last patch")
    t.prompt()
    assert (git_repo / "notes.txt").read_bytes() == original
    assert not (git_repo / "new.txt").exists()
    t.line("/undo")
    t.expect(r"nothing to undo")
    t.prompt()
    t.line("/diff")
    t.expect(r"no file changes in this session")
    t.prompt()
    t.ctrl_d()
    assert t.wait_exit() == 0
    records = [json.loads(x) for log in (cw_home / "logs").rglob("*.jsonl") for x in log.read_text().splitlines()]
    undone = [r for r in records if r["type"] == "file.change" and r.get("undo")]
    assert sorted((r["path"], r["kind"]) for r in undone) == [("new.txt", "delete"), ("notes.txt", "update")]


def test_undo_refuses_when_the_file_changed_since(tui, git_repo):
    t = tui(
        "-a", "auto-edit", steps=[{"tool": "apply_patch", "args": {"input": ADD_HELLO}}, {"text": "file is in place"}]
    )
    t.prompt()
    t.line("add it")
    t.expect("file is in place")
    t.prompt()
    (git_repo / "hello.py").write_text("changed by hand\n")
    t.line("/undo")
    t.expect(r"cannot undo: hello\.py changed since the patch was applied; nothing was changed")
    t.prompt()
    assert (git_repo / "hello.py").read_text() == "changed by hand\n"


def test_new_clears_the_context(tui, model_server):
    t = tui(steps=[{"text": "first answer"}, {"text": "second answer"}])
    t.prompt()
    t.line("the first task mentions apricots")
    t.expect("first answer")
    t.prompt()
    t.line("/new")
    t.expect("context is cleared")
    t.prompt()
    t.line("a second task")
    t.expect("second answer")
    t.prompt()
    first, second = model_server.requests
    assert "apricots" in first.body
    assert "apricots" not in second.body and "first answer" not in second.body
    roles = [m["role"] for m in chat_messages(second.body)]
    assert roles == ["system", "system", "user"]  # instructions, preamble, the new prompt


def test_mode_changes_what_is_asked(tui, git_repo, model_server):
    t = tui(steps=[{"tool": "shell", "args": {"command": "echo hi > out.txt"}}, {"text": "ran it"}])
    t.prompt()
    t.line("/mode")
    t.expect(r"approval mode: suggest")
    t.prompt()
    t.line("/mode yolo")
    t.expect(r"/mode yolo: unknown approval mode; choose one of suggest, auto-edit, full-auto")
    t.prompt()
    t.line("/mode full-auto")
    t.expect(r"approval mode: full-auto")
    t.expect(r"scripted \(local\) · full-auto · sandbox")  # the status line before the prompt
    t.expect(r"› ?")
    t.line("write it")
    t.expect("ran it")
    t.prompt()
    assert "Run it?" not in t.text
    assert (git_repo / "out.txt").read_text() == "hi\n"
    body = model_server.requests[0].body
    assert "<approval_mode>full-auto</approval_mode>" in body  # the preamble says the mode in force


def test_sent_lists_exactly_what_left(tui, git_repo, model_server):
    import hashlib

    (git_repo / ".codexignore").write_text("private.txt\n")
    (git_repo / "private.txt").write_text("do not send\n")
    secret = "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4"
    t = tui(steps=[{"tool": "list_dir", "args": {"path": "."}}, {"text": "listed"}])
    t.prompt()
    t.line(f"my token is {secret}, list the files")
    t.expect(r"↑ sent [\d.]+ KB to 127\.0\.0\.1:\d+; 1 secret redacted")
    t.expect(r"↑ sent [\d.]+ KB to 127\.0\.0\.1:\d+; 1 secret redacted; 1 file withheld by \.codexignore")
    t.expect("listed")
    t.prompt()
    t.line("/sent")
    m = t.expect(r"2 requests, [\d.]+ KB in all, to 127\.0\.0\.1:\d+")
    t.prompt()
    report = t.text[m.start() : t.mark]
    reqs = model_server.requests
    assert len(reqs) == 2
    for n, req in enumerate(reqs, 1):
        digest = hashlib.sha256(req.body.encode()).hexdigest()[:12]
        assert f"sha256 {digest}" in report
        assert f"  {n}  " in report
    assert report.count("redacted: github-pat×1") == 2
    assert secret not in "".join(r.body for r in reqs)
    assert "private.txt" not in reqs[1].body


def test_resume_last_sends_the_earlier_conversation(tui, git_repo, model_server):
    t = tui(steps=[{"text": "noted: the word is pineapple"}])
    t.prompt()
    t.line("remember the word pineapple")
    t.expect("noted")
    t.prompt()
    t.ctrl_d()
    m = t.expect(r"continue it with: codeward resume ([0-9a-f-]+)")
    session_id = m.group(1)
    assert t.wait_exit() == 0

    t2 = tui("resume", "--last", steps=[{"text": "it was pineapple"}])
    t2.expect(rf"resuming session {session_id}")
    t2.expect(r"last prompt:\s+› remember the word pineapple")
    t2.prompt()
    t2.line("which word was it?")
    t2.expect("it was pineapple")
    t2.prompt()
    users = contents(model_server.requests[0].body, "user")
    assert users == ["remember the word pineapple", "which word was it?"]
    assert "noted: the word is pineapple" in contents(model_server.requests[0].body, "assistant")
    t2.ctrl_d()
    assert t2.wait_exit() == 0

    t3 = tui("resume", session_id[:8], steps=[{"text": "still pineapple"}])
    t3.prompt()
    t3.line("and now?")
    t3.expect("still pineapple")
    users = contents(model_server.requests[0].body, "user")
    assert users == ["remember the word pineapple", "which word was it?", "and now?"]


def test_initial_prompt_runs_first(tui, model_server):
    t = tui("say hello", steps=[{"text": "hello there"}])
    t.expect(r"› say hello")
    t.expect("hello there")
    t.prompt()
    assert contents(model_server.requests[0].body, "user") == ["say hello"]


def test_long_command_output_is_collapsed_and_expandable(tui):
    t = tui("-a", "full-auto", steps=[{"tool": "shell", "args": {"command": "seq 1 100"}}, {"text": "counted"}])
    t.prompt()
    t.line("count")
    t.expect(r"… 88 more lines; /expand to see all")
    t.expect("counted")
    t.prompt()
    collapsed = t.text
    assert "\n  50\n" not in collapsed and "\n  6\n" in collapsed and "\n  95\n" in collapsed
    t.line("/expand")
    t.expect(r"\n *50\n")
    t.prompt()


def test_unknown_slash_command_and_help(tui):
    t = tui(steps=[])
    t.prompt()
    t.line("/frobnicate now")
    t.expect(r"codeward: unknown command /frobnicate; /help lists the commands")
    t.prompt()
    t.line("/help")
    t.expect(r"/undo\s+revert the last applied patch")
    t.prompt()
    t.line("/status")
    t.expect(r"approval mode\s+suggest")
    t.expect(r"network\s+off")
    t.prompt()
    t.line("/quit")
    assert t.wait_exit() == 0


def test_multiline_input_with_alt_enter(tui, model_server):
    t = tui(steps=[{"text": "two lines received"}])
    t.prompt()
    t.send("line one")
    t.send("\x1b\r")  # Alt-Enter (Esc, Enter): a newline, not send
    t.line("line two")
    t.expect("two lines received")
    assert contents(model_server.requests[0].body, "user") == ["line one\nline two"]


def test_history_is_per_project_and_redacted(tui, git_repo, cw_home, model_server):
    secret = "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4"
    t = tui(steps=[{"text": "stored the deploy note"}])
    t.prompt()
    t.line(f"deploy with token {secret}")
    t.expect("stored the deploy note")
    t.prompt()
    t.ctrl_d()
    assert t.wait_exit() == 0
    [hist] = list((cw_home / "history").glob("*.jsonl"))
    assert hist.stat().st_mode & 0o777 == 0o600
    stored = hist.read_text()
    assert secret not in stored and "deploy with token <secret:github-pat:" in stored
    assert json.loads(stored.splitlines()[0]) == {"workspace": str(git_repo.resolve())}

    # the next session in the same project recalls it (redacted) with Up
    t2 = tui(steps=[{"text": "recalled it"}])
    t2.prompt()
    t2.send("\x1b[A")
    t2.expect(r"deploy with token <secret:github-pat:")
    t2.send("\r")
    t2.expect("recalled it")
    assert secret not in model_server.requests[0].body


def test_history_persistence_none_writes_nothing(tui, cw_home):
    t = tui(extra='[history]\npersistence = "none"', steps=[{"text": "not kept"}])
    t.prompt()
    t.line("a prompt that must not be kept")
    t.expect("not kept")
    t.prompt()
    t.ctrl_d()
    assert t.wait_exit() == 0
    assert not (cw_home / "history").exists() or not list((cw_home / "history").iterdir())
    assert not list(cw_home.rglob("sessions/**/*.jsonl"))


def test_without_a_terminal_points_to_exec(git_repo, cw_home, model_server):
    from tests.support.cli import write_config

    write_config(cw_home, model_server.url)
    for args in ((), ("resume", "--last")):
        p = run_cw(*args, cwd=git_repo, input="hello\n")
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1
        assert "needs a terminal" in p.stderr and "codeward exec" in p.stderr
    assert model_server.requests == []


def test_resume_needs_an_id_or_last(git_repo):
    p = subprocess.run(
        [sys.executable, "-m", "codeward", "resume"], cwd=git_repo, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 2
    assert p.stderr.strip() == "codeward: resume: give a session ID or --last (codeward resume --last)"


def test_an_unreachable_model_is_one_line_and_the_session_goes_on(tui):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    t = tui(url=f"http://127.0.0.1:{port}/v1")
    t.prompt()
    t.line("hello")
    t.expect(rf"✗ cannot reach http://127\.0\.0\.1:{port}/v1")
    t.prompt()
    t.line("/status")
    t.expect(r"requests sent\s+1 ")
    t.prompt()
    t.ctrl_d()
    assert t.wait_exit() == 0


def test_a_missing_key_is_one_line_before_any_session(tui, cw_home, model_server):
    t = tui(env={"SCRIPTED_KEY": ""}, steps=[])
    assert t.wait_exit() == 2
    assert t.text.strip() == (
        "codeward: no API key for provider 'scripted': set $SCRIPTED_KEY, run codeward login --provider scripted, "
        "or configure providers.scripted.key_command"
    )
    assert model_server.requests == []
