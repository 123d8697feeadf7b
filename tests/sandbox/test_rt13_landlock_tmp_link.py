"""Red team rt13 (side finding, not the watch; fixed by identity: a file that holds a secret and has a
name the workspace walk does not reach refuses commands): under Landlock a command may write the real ``/tmp``
(the network off, no workspace below it), which lies on the workspace's file system here. A hard
link made there to a workspace file outlives the command; when the user later puts a secret in the
file, the learner marks it and Landlock puts the redacted copy in its place, but the link in /tmp
still names the real file, and the next command reads it raw.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.support.cli import write_config
from tests.support.leaks import SHIFT, shifted_leaks
from tests.support.model_server import strings
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"


def leaked(text: str) -> list[str]:
    return shifted_leaks(AWS, text)


@pytest.mark.sandbox
def test_a_link_in_tmp_reads_the_users_secret_past_the_redacted_copy(
    workspace_beside_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeward.providers.types import ToolCall
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox("landlock")
    except SandboxUnavailable as e:
        pytest.skip(f"landlock cannot be enforced here: {e}")
    # the user's home and codeward home where they usually are: not below /tmp, so /tmp is granted
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
    link = Path("/tmp") / f"rt13-{uuid.uuid4().hex}"
    s = offline_session(ws)

    def run(command: str, n: int) -> str:
        return str(s.agent.tools.dispatch(ToolCall(f"c{n}", "shell", json.dumps({"command": command})), s.ctx).text)

    try:
        outputs = [run(f"ln settings.py {link} && echo linked", 0)]
        assert "linked" in outputs[0], outputs[0]
        with open(ws / "settings.py", "a") as f:  # the user adds a key, in place
            f.write(f'AWS_SECRET_ACCESS_KEY = "{AWS}"\n')
        outputs.append(run(f"cat settings.py | {SHIFT}", 1))
        outputs.append(run(f"cat {link} | {SHIFT}", 2))
        assert str(ws / "settings.py") in s.gate.redactor.learner.secret_paths()
        assert "has another name (a hard link)" in outputs[2], outputs[2]  # refused, by the file's identity
        body = {"messages": [{"role": "tool", "tool_call_id": f"c{i}", "content": o} for i, o in enumerate(outputs)]}
        sent = "\n".join(strings(json.loads(s.gate.prepare(body, record=False).body)))
        assert leaked(sent) == [], outputs[2]
    finally:
        link.unlink(missing_ok=True)
