"""``allow_directories`` binds the model's commands, end to end: ``codeward exec -a full-auto``.

The real program, a real loopback model server and the real sandbox: AGENTS.md allows only
``src/``; the model runs one command writing inside it and one writing at the root. The host shows
which file exists, and the tool result sent back to the model carries the sandbox's note.
"""

from __future__ import annotations

import pytest
from tests.support.cli import codeward, write_config

pytestmark = pytest.mark.sandbox


@pytest.fixture
def sandbox_tier() -> str:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox().tier
    except SandboxUnavailable as e:
        pytest.skip(f"no sandbox tier can be enforced on this machine: {e}")


def test_full_auto_commands_write_only_in_allowed_dirs(model_server, git_repo, cw_home, sandbox_tier):
    (git_repo / "AGENTS.md").write_text("# rules\n\nallow_directories:\n- src/\n")
    (git_repo / "src").mkdir()
    model_server.script(
        [
            {"tool": "shell", "args": {"command": "echo ok > src/ok.txt"}},
            {"tool": "shell", "args": {"command": "echo no > other.txt"}},
            {"text": "done"},
        ]
    )
    write_config(cw_home, model_server.url)
    run = codeward("exec", "--json", "-a", "full-auto", "write two files", cwd=git_repo)
    assert run.returncode == 0, run.stderr

    assert (git_repo / "src" / "ok.txt").read_text() == "ok\n"
    assert not (git_repo / "other.txt").exists()
    first, second = run.items("command_execution")
    assert (first["status"], first["exit_code"]) == ("completed", 0)
    assert second["status"] == "failed" and second["exit_code"] == 1

    note = "sandbox: only src/ may be modified (allow_directories, AGENTS.md:4); other paths are read-only"
    reqs = model_server.requests
    assert len(reqs) == 3
    assert "exit code: 0" in reqs[1].body and note not in reqs[1].body
    assert note in reqs[2].body and "other.txt" in reqs[2].body
