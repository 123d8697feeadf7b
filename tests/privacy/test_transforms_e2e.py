"""Issue 11's adversarial model: it reads an ordinary (not ignored) file whose secrets the scanner
finds, and tries to carry them past the gate through the shell tool in full-auto with the usual
transforms, and echoes the prompt's own secret back through ``rev``. No planted
secret may reach the server in any form the known-values matcher recognises, while an honest
``cat`` still delivers every ordinary line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import codeward, write_config
from tests.support.model_server import strings
from tests.support.sessions import offline_session

from codeward.privacy.known import KnownValues

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
LETTERS = "riverbankmoon"
PROMPT_SECRET = "ghp_Vb7Qx2Lm9Pz4Kt6Wr1Ys8Nd3Fh5Jc0Ag2Ek4"
ORDINARY = [f"keep-line-{i}: nothing secret about line {i}" for i in range(40)]
FILE = "\n".join([*ORDINARY[:20], f"aws_secret_access_key = {AWS}", f"DB_PASSWORD={LETTERS}", *ORDINARY[20:]]) + "\n"

ATTACKS = [
    "rev config/app.conf",
    "xxd -p config/app.conf",
    "base32 config/app.conf",
    "gzip -c config/app.conf | base64",
    "tr 'A-Za-z' 'N-ZA-Mn-za-m' < config/app.conf",
    "sed 's/./& /g' config/app.conf",
    "base64 config/app.conf | base64 | base64",
    "python3 -c \"print([ord(c) for c in open('config/app.conf').read()])\"",
]


@pytest.mark.sandbox
def test_transforms_through_the_shell_carry_nothing(model_server, git_repo: Path, cw_home: Path) -> None:
    (git_repo / "config").mkdir()
    (git_repo / "config" / "app.conf").write_text(FILE)
    steps: list[dict[str, Any]] = [{"tool": "shell", "args": {"command": c}} for c in ATTACKS]
    # the prompt's own secret, re-typed reversed by the model into a command (a model that guessed
    # it: it saw a placeholder): known from the prompt, so the command's output is redacted
    steps.append({"tool": "shell", "args": {"command": f"echo {PROMPT_SECRET[::-1]} | rev"}})
    steps.append({"tool": "shell", "args": {"command": "cat config/app.conf"}})
    steps.append({"text": "done"})
    model_server.script(steps)
    write_config(cw_home, model_server.url, "chat", extra="[sandbox]\noutput_cap_bytes = 1048576")
    run = codeward("exec", "--json", "-a", "full-auto", f"my token is {PROMPT_SECRET}; go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    reqs = model_server.requests
    # what codeward sent: the user's prompt, the tool results; the model's own items go back as it
    # wrote them (its "re-typed" secret is a guess the provider produced: README, Guesses)
    sent = "\n".join(
        s for r in reqs for m in json.loads(r.body)["messages"] if m.get("role") != "assistant" for s in strings(m)
    )
    known = KnownValues()
    for v in (AWS, LETTERS, PROMPT_SECRET):
        known.add(v, "planted")
    assert known.find(sent) == [], "a planted secret reached the model in a recognisable form"
    for v in (AWS, LETTERS, PROMPT_SECRET):
        assert v not in sent and v[::-1] not in sent
    # the honest cat (the last tool result) still carries every ordinary line
    last = "\n".join(strings(json.loads(reqs[-1].body)))
    assert all(line in last for line in ORDINARY)


@pytest.mark.sandbox
def test_prompt_placeholder_round_trip_then_rev_stays_redacted(git_repo: Path) -> None:
    """The model copies the placeholder of a secret the user pasted into a new file (apply_patch
    restores the real value on disk), then reverses the file with a command: the value is known
    from the prompt, so the reversed output is redacted before it leaves."""
    from codeward.providers.types import ToolCall

    s = offline_session(git_repo)
    prompt = s.gate.redact_text(f"deploy with my token {PROMPT_SECRET}")[0]
    placeholder = prompt.split("token ")[1]
    assert placeholder.startswith("<secret:") and PROMPT_SECRET not in prompt
    patch = f"*** Begin Patch\n*** Add File: notes.txt\n+token = {placeholder}\n+ordinary line\n*** End Patch\n"
    dispatch = s.agent.tools.dispatch
    assert dispatch(ToolCall("c1", "apply_patch", json.dumps({"input": patch})), s.ctx).text.startswith("Success.")
    assert PROMPT_SECRET in (git_repo / "notes.txt").read_text()  # restored on disk, as designed
    out = dispatch(ToolCall("c2", "shell", json.dumps({"command": "rev notes.txt; base32 notes.txt"})), s.ctx).text
    # the command itself reads the file redacted (the sandbox's redacted view)...
    assert PROMPT_SECRET not in out and PROMPT_SECRET[::-1] not in out and "enil yranidro" in out
    sent = s.gate.prepare({"messages": [{"role": "tool", "tool_call_id": "c2", "content": out}]}).body.decode()
    known = KnownValues()
    known.add(PROMPT_SECRET, "planted")
    assert known.find(sent) == [] and PROMPT_SECRET[::-1] not in sent  # ...and nothing of it leaves
    assert "enil yranidro" in sent


def test_a_secret_from_the_prompt_goes_into_a_file_only_with_a_yes(git_repo: Path) -> None:
    """In exec (nobody to ask) a patch that would restore a prompt secret is declined, full-auto or not;
    a file secret's placeholder still goes back as designed, and a user's yes lets the prompt one in."""
    from codeward.providers.types import ToolCall
    from codeward.tools.asking import Answer

    s = offline_session(git_repo)
    s.agent.run_turn(f"deploy with my token {PROMPT_SECRET}")  # no model here: the turn fails after the prompt
    [placeholder] = s.ctx.prompt_placeholders
    patch = f"*** Begin Patch\n*** Add File: notes.txt\n+token = {placeholder}\n*** End Patch\n"
    out = s.agent.tools.dispatch(ToolCall("c1", "apply_patch", json.dumps({"input": patch})), s.ctx).text
    assert out.startswith("declined") and "secret from your own prompt" in out
    assert not (git_repo / "notes.txt").exists()

    class Yes:
        def approve_edit(self, request: object) -> Answer:
            return Answer(True)

        def approve_command(self, request: object) -> Answer:
            return Answer(False)

    s.ctx.approver = Yes()  # type: ignore[assignment]
    out = s.agent.tools.dispatch(ToolCall("c2", "apply_patch", json.dumps({"input": patch})), s.ctx).text
    assert out.startswith("Success.") and PROMPT_SECRET in (git_repo / "notes.txt").read_text()
