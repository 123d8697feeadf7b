"""Red team rt18: attacks on this round's fixes (hostprog, link_names, scratch, the strings scan).

Each test drives the real tool path and fails on the code it was written against.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.privacy.test_rt13_tree_watch import _dispatch, _tier
from tests.support.sessions import offline_session


def _tool(s: Any, name: str, args: dict[str, Any], n: int) -> str:
    from codeward.providers.types import ToolCall

    return str(s.agent.tools.dispatch(ToolCall(f"t{n}", name, json.dumps(args)), s.ctx).text)


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
def test_a_rg_planted_beside_a_workspace_venv_python_never_runs_on_the_host(
    git_repo: Path, cw_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tier: str
) -> None:
    """codeward installed in the project's own venv (``pip install codeward`` into ``.venv``, the
    venv activated): ``sys.executable`` is ``<workspace>/.venv/bin/python``. The grep tool takes
    ``rg`` from beside the interpreter before anything else (grep.rg_binary), with no check that
    this directory is one commands write: a command writes ``.venv/bin/rg`` and the next grep tool
    call runs it on the host, unconfined. (The launcher already refuses such an interpreter:
    launch.trusted_python.)"""
    _tier(cw_home, tier)
    venv_bin = git_repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    marker = tmp_path / "outside" / "host-ran-rg"
    marker.parent.mkdir()
    s = offline_session(git_repo)
    script = f"#!/bin/sh\\necho ran > {marker}\\n"
    out = _dispatch(s, f"printf '{script}' > .venv/bin/rg && chmod +x .venv/bin/rg && echo planted", 0)
    assert "planted" in out, out
    assert not marker.exists()  # the sandbox kept the command inside the workspace
    _tool(s, "grep", {"pattern": "test"}, 1)
    assert not marker.exists(), "the grep tool ran the command's rg on the host"


AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
CONF = f"# app settings\naws_secret_access_key = {AWS}\nregion = eu-west-1\n"


def _iconv(data: bytes, src: str, dst: str) -> bytes:
    import shutil
    import subprocess

    if shutil.which("iconv") is None:
        pytest.skip("no iconv here")
    run = subprocess.run(["iconv", "-f", src, "-t", dst], input=data, capture_output=True)
    if run.returncode != 0:
        pytest.skip(f"iconv cannot convert {src} to {dst} here")
    return run.stdout


@pytest.mark.sandbox
@pytest.mark.parametrize("tier", ["bwrap", "landlock"])
@pytest.mark.parametrize("codepage", ["IBM930", "IBM1390"])
def test_a_japanese_ebcdic_export_is_seen_by_the_scan(git_repo: Path, cw_home: Path, tier: str, codepage: str) -> None:
    """rt16's fix scans a NUL-free, non-UTF-8 file's strings as ASCII, UTF-16/32 and EBCDIC cp037 /
    cp500 (textenc.printable_strings). The Japanese EBCDIC code pages of z/OS exports (IBM-930,
    IBM-1390: Katakana where cp037 has the lower-case letters, which move to 0x62-0x8x) have no NUL
    either, so the file passes for UTF-8 text, and neither its UTF-8 text nor its strings hold the
    value; the view shows it raw and ``iconv -f IBM930`` prints the key."""
    from tests.support.leaks import SHIFT, shifted_leaks

    data = _iconv(CONF.encode(), "UTF-8", codepage)
    assert b"\0" not in data and AWS.encode() not in data
    assert AWS.encode() in _iconv(data, codepage, "UTF-8")  # what a command reads
    _tier(cw_home, tier)
    (git_repo / "export.dat").write_bytes(data)
    s = offline_session(git_repo)
    out = _dispatch(s, f"iconv -f {codepage} -t UTF-8 export.dat | {SHIFT}", 0)
    assert "exit code" in out, out  # the command ran (on the view's copy: its bytes that are not UTF-8 replaced)
    assert str(git_repo / "export.dat") in s.gate.redactor.learner.secret_paths()
    from tests.privacy.test_rt13_tree_watch import _sent

    assert shifted_leaks(AWS, _sent(s, [out])) == [], out


@pytest.mark.sandbox
def test_python_m_codeward_never_imports_a_module_a_command_wrote_in_the_workspace(
    git_repo: Path, cw_home: Path, tmp_path: Path
) -> None:
    """``python -m codeward`` (``__main__.py``: "Allow python -m codeward"; every CLI test runs it
    so) puts the working directory, the workspace, first on ``sys.path``: every module codeward
    imports after that (``click``, ``httpx``, ``rich``, stdlib ones such as ``json``) is looked up in
    the workspace first. A command writes ``click.py``; the user's next ``python -m codeward`` in the
    project runs it on the host. rt14 fixed exactly this for the warm server (``-P``, cwd ``/``),
    not for the entry point itself."""
    from tests.support.cw_subprocess import run_cw

    _tier(cw_home, "bwrap")
    marker = tmp_path / "outside" / "host-imported-it"
    marker.parent.mkdir()
    plant = f'printf \'open("{marker}", "w").write("x")\\n\' > click.py && echo planted'
    first = run_cw("sandbox", "--", "sh", "-c", plant, cwd=git_repo)
    assert "planted" in first.stdout, first.stderr  # bubblewrap is enforced here (_tier skipped otherwise)
    assert (git_repo / "click.py").is_file()
    assert not marker.exists()  # the sandbox kept the command in the workspace
    run_cw("sandbox", "--", "true", cwd=git_repo)
    assert not marker.exists(), "codeward imported the command's click.py on the host"
