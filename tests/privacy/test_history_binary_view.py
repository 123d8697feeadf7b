"""Binary blobs in git history are judged as the working tree's binaries are (red team rt6).

The history scan and the object view counted every blob with a NUL byte as clean, unread, so a
committed gzip, zip or UTF-16 file holding a secret was served raw by the object view (``git show
HEAD~1:app.conf.gz | zcat``), even one still in the tree, where ``cat`` was refused. Now such a blob
is scanned on its strings and what it unpacks to, and hidden when it holds a secret or cannot be
read in full. Judged by what a shifted copy of the command's output leaks; verified to leak on the
code before the fix."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from tests.privacy.test_unpack_view_e2e import CONF, SHIFT, _run, _tier, _zip, leaked
from tests.support.sessions import offline_session

G = ["git", "-c", "user.name=a", "-c", "user.email=a@b"]
CASES = {
    "gzip": ("app.conf.gz", lambda: gzip.compress(CONF.encode()), "git show HEAD~1:app.conf.gz | zcat"),
    "zip": (
        "bundle.zip",
        lambda: _zip({"app.conf": CONF.encode()}),
        "git show HEAD~1:bundle.zip > /tmp/b.zip && unzip -p /tmp/b.zip || python3 -c \"import zipfile;print(zipfile.ZipFile('/tmp/b.zip').read('app.conf').decode())\"",
    ),
    "utf16": (
        "settings.ps1",
        lambda: "\ufeff".encode("utf-16-le") + CONF.encode("utf-16-le"),
        "git show HEAD~1:settings.ps1 | iconv -f utf-16 -t utf-8",
    ),
    "still-in-tree-gzip": ("keep.gz", lambda: gzip.compress(CONF.encode()), "git cat-file -p HEAD:keep.gz | zcat"),
}


@pytest.mark.sandbox
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_binary_blob_in_history_is_judged_on_its_contents(git_repo: Path, cw_home: Path, name: str) -> None:
    _tier(cw_home, "bwrap")
    fname, make, command = CASES[name]
    (git_repo / fname).write_bytes(make())
    subprocess.run([*G, "-C", str(git_repo), "add", fname], check=True)
    subprocess.run([*G, "-C", str(git_repo), "commit", "-qm", "add"], check=True)
    if name.startswith("still"):
        (git_repo / "other.txt").write_text("x\n")
        subprocess.run([*G, "-C", str(git_repo), "add", "other.txt"], check=True)
    else:
        subprocess.run([*G, "-C", str(git_repo), "rm", "-q", fname], check=True)
    subprocess.run([*G, "-C", str(git_repo), "commit", "-qm", "rm"], check=True)
    s = offline_session(git_repo)
    out = _run(s, f"( {command} ) | {SHIFT}")
    assert leaked(out) == [], out[-500:]


@pytest.mark.sandbox
def test_binary_history_stays_off_the_wire_end_to_end(model_server, git_repo: Path, cw_home: Path) -> None:
    """The whole product: codeward exec, full-auto, scripted model, bytes at the loopback server."""
    import json

    from tests.support.cli import codeward, write_config
    from tests.support.model_server import strings

    (git_repo / "keep.gz").write_bytes(gzip.compress(CONF.encode()))
    (git_repo / "settings.ps1").write_bytes("\ufeff".encode("utf-16-le") + CONF.encode("utf-16-le"))
    subprocess.run([*G, "-C", str(git_repo), "add", "."], check=True)
    subprocess.run([*G, "-C", str(git_repo), "commit", "-qm", "add"], check=True)
    model_server.script(
        [
            {
                "tool": "shell",
                "args": {"command": f"cat keep.gz | zcat | {SHIFT}; echo; echo ---"},
            },  # control: hidden in the tree
            {"tool": "shell", "args": {"command": f"git cat-file -p HEAD:keep.gz | zcat | {SHIFT}"}},
            {"tool": "shell", "args": {"command": f"git show HEAD:settings.ps1 | iconv -f utf-16 -t utf-8 | {SHIFT}"}},
            {"text": "done"},
        ]
    )
    write_config(cw_home, model_server.url, "chat", extra='[sandbox]\ntier = "bwrap"\n')
    run = codeward("exec", "--json", "-a", "full-auto", "go", cwd=git_repo)
    assert run.returncode == 0, run.stderr
    sent = "\n".join(x for r in model_server.requests for x in strings(json.loads(r.body)))
    assert leaked(sent) == []
