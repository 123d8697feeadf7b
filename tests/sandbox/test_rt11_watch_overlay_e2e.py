"""Red team rt11: on an overlayfs workspace the index's watch missed what the host writes below it.

The workspace is the merged directory of an overlay whose lower layer is the user's real checkout (a
copy-on-write scratch copy of a project, a container's image layer) or whose upper layer a host tool
writes directly. A file written into a layer appears in the merged directory at once, and the merged
directory's ``ctime`` moves (overlayfs reports the real directory's times), so an ``lstat`` walk and
a fresh walk both see it. inotify does not: a watch on an overlay inode gets events only for changes
made *through* the overlay, none for one made in a layer. The first version of
:class:`codeward.dirindex.watch.DirWatch` trusted overlay like any local file system, called the
tree quiet, and :meth:`codeward.dirindex.DirIndex._refresh` returned the view from before: the new
``.env`` was not masked and the next command of the session read it; a nested repository the host
cloned into the lower layer was not made read-only; through ``codeward exec --full-auto`` the new
``.env`` reached the model server. The watch is now never trusted on overlay
(:data:`codeward.dirindex.WATCHABLE_FS`). The new-names watch, inotify too, cannot see a layer
write made *while* a command runs (README, Limits); a write through the merged directory it does.

Judged from the host: what the command printed, what reached the model server, what changed in the
nested repository. Needs root (to mount the overlay).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, git

pytestmark = pytest.mark.sandbox


@pytest.fixture
def layers(tmp_path: Path) -> Iterator[dict[str, Path]]:
    if os.geteuid() != 0:
        pytest.skip("mounting an overlay needs root")
    d = {n: tmp_path / n for n in ("lower", "upper", "work", "merged")}
    for p in d.values():
        p.mkdir()
    lower = d["lower"]
    git(lower, "init", "-q", "-b", "main")
    git(lower, "config", "user.email", "t@example.com")
    git(lower, "config", "user.name", "T")
    (lower / "README.md").write_text("# app\n")
    (lower / "config").mkdir()
    (lower / "config" / "app.toml").write_text("debug = false\n")
    (lower / "src").mkdir()
    (lower / "src" / "main.py").write_text("print('hi')\n")
    git(lower, "add", "-A")
    git(lower, "commit", "-q", "-m", "init")
    opts = f"lowerdir={lower},upperdir={d['upper']},workdir={d['work']}"
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(d["merged"])], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount an overlay here: {r.stderr.decode().strip()}")
    try:
        yield d
    finally:
        from codeward import dirindex

        dirindex.forget(d["merged"])
        subprocess.run(["umount", "-l", str(d["merged"])], check=False)


@pytest.fixture(params=["bwrap", "landlock"])
def tier(request: pytest.FixtureRequest) -> Any:
    from codeward.errors import SandboxUnavailable
    from codeward.sandbox import select_sandbox

    try:
        return select_sandbox(request.param)
    except SandboxUnavailable as e:
        pytest.skip(f"{request.param}: {e}")


def _session(tier: Any, layers: dict[str, Path], cw_home: Path) -> Project:
    proj = Project(root=layers["merged"], home=Path(os.environ["HOME"]), cw_home=cw_home)
    time.sleep(0.3)  # no directory racy
    for _ in range(3):  # from the 4th refresh the index keeps a watch; the 6th trusts it
        r = proj.run(tier, "true")
        assert r.exit_code == 0, r.output
    return proj


def _host_writes(layer: Path, rel: str) -> str:
    marker = f"CWMARK-rt11-{os.urandom(6).hex()}"
    (layer / rel).write_text(f"API_TOKEN={marker}\n")  # `.env`: a built-in ignore rule
    time.sleep(0.3)
    return marker


def test_an_env_the_host_writes_into_the_lower_layer_is_read(tier: Any, layers: dict[str, Path], cw_home: Path) -> None:
    proj = _session(tier, layers, cw_home)
    marker = _host_writes(layers["lower"], "config/.env")
    assert (layers["merged"] / "config" / ".env").read_text().strip().endswith(marker)  # the workspace shows it
    r = proj.run(tier, "cat config/.env 2>&1; true")
    assert marker not in r.output, "the .env the host wrote into the overlay's lower layer was read"


def test_an_env_the_host_writes_into_the_upper_layer_is_read(tier: Any, layers: dict[str, Path], cw_home: Path) -> None:
    proj = _session(tier, layers, cw_home)
    (layers["upper"] / "notes").mkdir()  # a directory only the upper layer has
    time.sleep(0.3)
    proj.run(tier, "true")  # seen through the merged root's ctime
    proj.run(tier, "true")
    marker = _host_writes(layers["upper"], "notes/.env")
    r = proj.run(tier, "cat notes/.env 2>&1; true")
    assert marker not in r.output, "the .env the host wrote into the overlay's upper layer was read"


def _host_makes_a_repository(layers: dict[str, Path]) -> Path:
    """The host clones a library into the real checkout (the lower layer): a nested repository,
    whose ``.git`` must be read-only to commands (git on the host runs what its config names)."""
    lib = layers["lower"] / "config" / "lib"
    lib.mkdir()
    git(lib, "init", "-q", "-b", "main")
    time.sleep(0.3)
    cfg = layers["merged"] / "config" / "lib" / ".git" / "config"
    assert cfg.is_file()  # the workspace shows it
    return cfg


def test_a_nested_repository_the_host_puts_in_the_lower_layer_is_writable(
    tier: Any, layers: dict[str, Path], cw_home: Path
) -> None:
    proj = _session(tier, layers, cw_home)
    cfg = _host_makes_a_repository(layers)
    before = cfg.read_bytes()
    proj.run(tier, "printf '[core]\\n\\tfsmonitor = touch /tmp/rt11-fsm\\n' >> config/lib/.git/config; true")
    assert cfg.read_bytes() == before, "the nested repository's config was written"


def test_control_without_the_index_watch_the_env_stays_hidden(
    tier: Any, layers: dict[str, Path], cw_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same session with the index's watch never started: the ``lstat`` walk sees the layer's
    directory's new ctime, lists it again and the ``.env`` is masked."""
    from codeward import dirindex

    monkeypatch.setattr(dirindex, "WATCH_AFTER", 10**9)
    proj = _session(tier, layers, cw_home)
    marker = _host_writes(layers["lower"], "config/.env")
    r = proj.run(tier, "cat config/.env 2>&1; true")
    assert marker not in r.output
    cfg = _host_makes_a_repository(layers)
    before = cfg.read_bytes()
    proj.run(tier, "printf '[core]\\n\\tfsmonitor = touch /tmp/rt11-fsm\\n' >> config/lib/.git/config; true")
    assert cfg.read_bytes() == before


def _exec_session(model_server: Any, layers: dict[str, Path], cw_home: Path, tier_name: str, where: Path) -> str:
    """The real program, full-auto, against a scripted model: four ordinary commands, during the
    fourth the host writes ``config/.env`` under ``where``, then the model asks for it. Returns what
    reached the model server."""
    import threading

    from tests.support.cli import codeward, write_config

    marker = f"CWMARK-rt11-{os.urandom(6).hex()}"
    model_server.script(
        [
            {"tool": "shell", "args": {"command": "true"}},
            {"tool": "shell", "args": {"command": "true"}},
            {"tool": "shell", "args": {"command": "true"}},
            {"tool": "shell", "args": {"command": "sleep 1.5"}},
            {"tool": "shell", "args": {"command": "cat config/.env; echo read-done"}},
            {"text": "done"},
        ]
    )
    write_config(cw_home, model_server.url, "chat", extra=f'[sandbox]\ntier = "{tier_name}"')
    stop = threading.Event()

    def host() -> None:  # once the fourth command was asked for, the host writes the file
        while not stop.is_set() and len(model_server.requests) < 4:
            time.sleep(0.02)
        time.sleep(0.5)
        # not a value any rule recognises: what keeps it from the model is that `.env` is ignored
        (where / "config" / ".env").write_text(f"# staging notes {marker}\n")

    t = threading.Thread(target=host, daemon=True)
    t.start()
    time.sleep(0.3)
    try:
        run = codeward("exec", "--json", "-a", "full-auto", "tidy up", cwd=layers["merged"])
    finally:
        stop.set()
        t.join(5)
    assert run.returncode == 0, run.stderr
    bodies = "\n".join(r.body for r in model_server.requests)
    assert "read-done" in bodies  # the session got as far as the read
    return bodies.replace(marker, "MARKER")


@pytest.mark.parametrize("tier_name", ["bwrap", "landlock"])
def test_through_codeward_exec_the_new_env_reaches_the_model(
    model_server: Any, layers: dict[str, Path], cw_home: Path, tier_name: str
) -> None:
    """The user's real checkout is the lower layer; the host writes the new ``.env`` there."""
    bodies = _exec_session(model_server, layers, cw_home, tier_name, layers["lower"])
    assert "staging notes MARKER" not in bodies, (
        "the .env the host wrote into the overlay's lower layer reached the model"
    )


@pytest.mark.parametrize("tier_name", ["bwrap", "landlock"])
def test_control_through_codeward_exec_an_env_written_through_the_overlay_is_hidden(
    model_server: Any, layers: dict[str, Path], cw_home: Path, tier_name: str
) -> None:
    """The same session with the host writing through the merged directory: an inotify event, the
    index lists ``config`` again and the ``.env`` is masked."""
    bodies = _exec_session(model_server, layers, cw_home, tier_name, layers["merged"])
    assert "staging notes MARKER" not in bodies


def _write_while_running(tier: Any, layers: dict[str, Path], cw_home: Path, where: Path) -> tuple[str, str]:
    import threading

    proj = _session(tier, layers, cw_home)
    marker = f"CWMARK-rt11-{os.urandom(6).hex()}"

    def host() -> None:
        time.sleep(0.8)
        (where / "config" / ".env").write_text(f"{marker}\n")

    t = threading.Thread(target=host, daemon=True)
    t.start()
    r = proj.run(tier, "sleep 2; cat config/.env 2>&1; true")
    t.join(5)
    return marker, r.output


def test_control_related_a_write_through_the_overlay_while_a_command_runs_stops_it(
    tier: Any, layers: dict[str, Path], cw_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeward import dirindex

    monkeypatch.setattr(dirindex, "WATCH_AFTER", 10**9)
    marker, output = _write_while_running(tier, layers, cw_home, layers["merged"])
    assert marker not in output
