"""Red team rt13 (side finding, not the watch): a Landlock command that gets itself stopped (it makes
a file the ignore rules hide and reads it back) makes codeward quarantine "every file new or changed
since the scan before the command", and that includes each file the redacted view held out of the
tree and put back (the rename moved its ctime): the user's secret-holding files, which the command
could neither read nor write, are moved out of the workspace. bubblewrap leaves them (its copies
are bound over the files, nothing is renamed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import write_config
from tests.support.sessions import offline_session

from codeward.errors import SandboxUnavailable

AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["landlock", "bwrap"])
def test_a_stopped_command_leaves_the_users_untouched_secret_files_in_place(
    tier: str, git_repo: Path, cw_home: Path
) -> None:
    from codeward.providers.types import ToolCall
    from codeward.sandbox import select_sandbox

    try:
        select_sandbox(tier)
    except SandboxUnavailable as e:
        pytest.skip(f"{tier} cannot be enforced here: {e}")
    conf = git_repo / "config" / "app.conf"
    conf.parent.mkdir()
    conf.write_text(f"aws_secret_access_key = {AWS}\n")
    write_config(cw_home, "http://127.0.0.1:9/v1", "chat", extra=f'[sandbox]\ntier = "{tier}"')
    s = offline_session(git_repo)

    def run(command: str, n: int) -> str:
        return str(s.agent.tools.dispatch(ToolCall(f"c{n}", "shell", json.dumps({"command": command})), s.ctx).text)

    run("true", 0)
    out = run("echo k > new.pem && cat new.pem", 1)  # a hidden file made and read back: stopped
    assert "k" not in out.splitlines()[1:2], out  # the stop happened (the read was withheld)
    assert conf.read_text() == f"aws_secret_access_key = {AWS}\n", out  # the user's file is where it was
