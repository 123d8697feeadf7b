"""Red team rt15: past rt13's fix (Landlock grants /tmp without REFER, so no workspace file can be
linked into the shared /tmp). The command's private ``$TMPDIR`` is inside /tmp and has REFER (it is
granted whole), so a workspace file can be linked there; the private directory itself is then renamed
within /tmp (same parent: REFER is not needed for that, and the command owns it), so the link
outlives the command. When the user later puts a secret in the file, the next command reads it raw
through the link."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from tests.sandbox.test_rt13_landlock_tmp_link import leaked
from tests.support.cli import write_config
from tests.support.leaks import SHIFT
from tests.support.model_server import strings
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"


@pytest.mark.sandbox
def test_a_link_in_the_private_tmpdir_renamed_within_tmp_outlives_the_command(
    workspace_beside_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codeward.providers.types import ToolCall
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox("landlock")
    except SandboxUnavailable as e:
        pytest.skip(f"landlock cannot be enforced here: {e}")
    home = workspace_beside_tmp.parent / "user"
    cw_home = home / ".codeward"
    cw_home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODEWARD_HOME", str(cw_home))
    write_config(
        cw_home, "http://127.0.0.1:9/v1", "chat", extra='[sandbox]\ntier = "landlock"\noutput_cap_bytes = 1048576'
    )
    ws = workspace_beside_tmp
    (ws / "settings.py").write_text("DEBUG = True\n")
    stash = Path("/tmp") / f"rt15-{uuid.uuid4().hex}"
    s = offline_session(ws)

    def run(command: str, n: int) -> str:
        return str(s.agent.tools.dispatch(ToolCall(f"c{n}", "shell", json.dumps({"command": command})), s.ctx).text)

    try:
        outputs = [run(f'ln settings.py "$TMPDIR/keep" && mv "$(dirname "$TMPDIR")" {stash} && echo stashed', 0)]
        assert "stashed" in outputs[0], outputs[0]
        with open(ws / "settings.py", "a") as f:  # the user adds a key, in place
            f.write(f'AWS_SECRET_ACCESS_KEY = "{AWS}"\n')
        outputs.append(run(f"cat settings.py | {SHIFT}", 1))  # control: shown redacted
        outputs.append(run(f"cat {stash}/*/keep | {SHIFT}", 2))
        assert str(ws / "settings.py") in s.gate.redactor.learner.secret_paths()
        body = {"messages": [{"role": "tool", "tool_call_id": f"c{i}", "content": o} for i, o in enumerate(outputs)]}
        sent = "\n".join(strings(json.loads(s.gate.prepare(body, record=False).body)))
        assert leaked(sent) == [], outputs[2]
    finally:
        shutil.rmtree(stash, ignore_errors=True)
