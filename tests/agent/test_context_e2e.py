"""Long sessions against a server with a real context limit: ``codeward exec`` end to end.

The scripted server refuses any body over 4 bytes per token of its window with OpenAI's
``context_length_exceeded`` error, and answers compaction requests with a summary. A model that
reads 60 files of 100 KB must finish with no refused request; an overflow forced on purpose (the
config claims a window larger than the server's) must be recovered; ``exec resume`` must work after.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import codeward, write_config

from codeward.agent.context import COMPACT_PROMPT

MARKER = COMPACT_PROMPT[:40]
WINDOW = 16_000
FILES = 60


@pytest.fixture(params=["chat", "responses"])
def wire(request) -> str:
    return request.param


def _write_files(repo: Path, n: int, size: int = 100 * 1024) -> list[str]:
    tags = []
    for i in range(n):
        tag = f"unique-tag-of-file-{i:02d}"
        line = f"{tag}: the quick brown fox jumps over the lazy dog, line after line of source text\n"
        (repo / f"f{i:02d}.txt").write_text(line * (size // len(line) + 1))
        tags.append(tag)
    return tags


def _audit_records(home: Path) -> list[dict]:
    out = []
    for path in sorted((home / "logs").rglob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def test_sixty_large_reads_fit_a_small_window(model_server, git_repo, cw_home, wire):
    tags = _write_files(git_repo, FILES)
    model_server.configure(window=WINDOW, summary_marker=MARKER)
    model_server.script(
        [*({"tool": "read_file", "args": {"path": f"f{i:02d}.txt"}} for i in range(FILES)), {"text": "final answer"}]
    )
    write_config(cw_home, model_server.url, wire, extra=f"max_steps = 100\nmodel_context_window = {WINDOW}")
    run = codeward("exec", "--json", "-a", "full-auto", "read every file", cwd=git_repo, timeout=600)
    assert run.returncode == 0, run.stderr
    assert model_server.state.refused == 0
    assert run.items("agent_message")[-1]["text"] == "final answer"

    bodies = [r.body for r in model_server.requests]
    assert all(len(b.encode()) <= 4 * WINDOW for b in bodies)
    for tag in tags:  # every tool output reached the model at least once
        assert any(tag in b for b in bodies), tag
    # read_file paged the 100 KB files instead of returning them whole
    assert any("read more with offset=" in b for b in bodies)

    compacted = [e for e in run.events if e["type"] == "context.compacted"]
    assert compacted and len(compacted) == model_server.state.summaries
    assert all(e["tokens_after"] < e["tokens_before"] for e in compacted)
    # each summary request went out through the gate: one egress event per request received
    egress = [e for e in run.events if e["type"] == "egress"]
    assert len(egress) == len(bodies)
    # the task is kept verbatim through every compaction
    assert "read every file" in bodies[-1]
    records = _audit_records(cw_home)
    assert sum(1 for r in records if r["type"] == "context.compacted") == len(compacted)


def test_forced_overflow_is_recovered_and_resume_works(model_server, git_repo, cw_home, wire):
    _write_files(git_repo, 12, size=20 * 1024)
    # the config claims four times the server's real window: the server will refuse a request
    model_server.configure(window=WINDOW, summary_marker=MARKER)
    model_server.script(
        [*({"tool": "read_file", "args": {"path": f"f{i:02d}.txt"}} for i in range(12)), {"text": "first done"}]
    )
    write_config(cw_home, model_server.url, wire, extra=f"max_steps = 100\nmodel_context_window = {WINDOW * 4}")
    run = codeward("exec", "--json", "-a", "full-auto", "read them all", cwd=git_repo, timeout=600)
    assert run.returncode == 0, run.stderr
    assert model_server.state.refused >= 1  # the overflow happened...
    assert run.items("agent_message")[-1]["text"] == "first done"  # ...and the turn still finished
    assert any(e["type"] == "context.compacted" for e in run.events)

    # resume in a new process: the saved history is the compacted one, and it is accepted
    model_server.script([{"text": "resumed fine"}])
    model_server.configure(window=WINDOW, summary_marker=MARKER)
    again = codeward("exec", "--json", "resume", "--last", "and now?", cwd=git_repo, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.items("agent_message")[-1]["text"] == "resumed fine"
    assert model_server.state.refused == 0
    last = model_server.requests[-1].body
    assert "read them all" in last and "and now?" in last


def test_overflowing_session_recovers_on_resume(model_server, git_repo, cw_home, wire):
    """A history saved by a run with a huge window overflows a smaller server; resume compacts it."""
    _write_files(git_repo, 6, size=20 * 1024)
    model_server.script([*({"tool": "read_file", "args": {"path": f"f{i:02d}.txt"}} for i in range(6)), {"text": "ok"}])
    write_config(cw_home, model_server.url, wire, extra="max_steps = 100\nmodel_context_window = 1000000")
    assert codeward("exec", "--json", "-a", "full-auto", "read", cwd=git_repo).returncode == 0
    big = len(model_server.requests[-1].body.encode())

    # now the server's window is much smaller than what the saved session holds
    model_server.configure(window=big // 4 // 3, summary_marker=MARKER)
    model_server.script([{"text": "still here"}])
    again = codeward("exec", "--json", "resume", "--last", "go on", cwd=git_repo, timeout=300)
    assert again.returncode == 0, again.stderr
    assert model_server.state.refused == 1  # refused once, compacted harder, retried once
    assert again.items("agent_message")[-1]["text"] == "still here"


def _ollama_config(home: Path, url: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'provider = "ollama"\nmodel = "qwen2.5-coder"\n[providers.ollama]\nname = "Ollama"\nbaseURL = "{url}"\n'
    )


def test_ollama_window_is_asked_and_a_small_one_warned_about(model_server, git_repo, cw_home):
    model_server.configure(window=1500)  # num_ctx 1500: smaller than instructions + tools + a turn
    model_server.script([{"text": "hi"}])
    _ollama_config(cw_home, model_server.url)
    run = codeward("exec", "--json", "hello", cwd=git_repo)
    assert any(r.path.endswith("/api/show") for r in model_server.requests)
    assert "context window of qwen2.5-coder is 1500 tokens (Ollama /api/show)" in run.stderr


def test_ollama_window_that_fits_gives_no_warning(model_server, git_repo, cw_home):
    model_server.configure(window=64_000)
    model_server.script([{"text": "hi"}])
    _ollama_config(cw_home, model_server.url)
    run = codeward("exec", "--json", "hello", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert "context window" not in run.stderr


def test_a_window_too_small_for_the_basics_compacts_once_and_says_so(model_server, git_repo, cw_home):
    model_server.configure(summary_marker=MARKER)
    model_server.script([{"tool": "list_dir", "args": {}}, {"text": "done"}])
    write_config(cw_home, model_server.url, "chat", extra="model_context_window = 1000")
    run = codeward("exec", "--json", "-a", "full-auto", "look", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    assert "smaller than the instructions and tools" in run.stderr  # warned at start
    # compacting cannot help here: it is tried once, not before every request
    assert model_server.state.summaries == 1
    errors = [e["message"] for e in run.events if e["type"] == "error"]
    assert any("cannot hold even the compacted conversation" in m for m in errors)
    assert run.items("agent_message")[-1]["text"] == "done"
