"""A name the ignore rules hide that the host creates while a command runs never reaches that command.

A hidden path that does not exist when a command starts has nothing over it (no mount under
bubblewrap, nothing held out under Landlock). When a program on the host creates one meanwhile (an
editor writes ``.env.local``, a tool makes ``credentials/`` or a new directory with a ``*.key`` in
it), the session's watch of the workspace judges the new name with the ignore rules and stops the
command, withholding its output. Judged from the host by what the command printed; the controls
switch the watch off and show the leak.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project

pytestmark = pytest.mark.sandbox

WATCH_OFF = pytest.param(
    False,
    marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason="control: without the watch the new file leaks"),
)
CASES = {
    "file": ".env.local",  # `.env.*`, a default rule
    "in-new-dir": "deploy/keys/prod.key",  # new directories first, then the file in them
    "hidden-dir": "credentials/token.txt",  # the directory itself is what the rules hide
    "rename": "config.key",  # written under another name, then renamed into place
}


def _create_later(root: Path, rel: str, text: str, delay: float, *, after: str | None = None) -> threading.Thread:
    """Create ``rel`` ``delay`` seconds from now, or, with ``after``, that long after the command
    has made the file ``after`` (so a slow start cannot let the file exist before the command)."""

    def go() -> None:
        if after is not None:
            for _ in range(600):
                if (root / after).exists():
                    break
                time.sleep(0.02)
        time.sleep(delay)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel == CASES["rename"]:
            tmp = root / "draft.txt"
            tmp.write_text("nothing yet\n")
            os.rename(tmp, path)
            path.write_text(text)
        else:
            path.write_text(text)

    t = threading.Thread(target=go)
    t.start()
    return t


def _switch(watch_on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not watch_on:
        from codeward.sandbox import new_names

        monkeypatch.setattr(new_names.NewNames, "poll", lambda self: False)


@pytest.fixture(params=["bwrap", "landlock"])
def tier(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("watch_on", [True, WATCH_OFF])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hidden_name_the_host_creates_during_a_command(
    tier: Any, project: Project, case: str, watch_on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _switch(watch_on, monkeypatch)
    rel = CASES[case]
    assert not (project.root / rel).exists()
    marker = f"CWMARK-created-{os.urandom(6).hex()}"
    t = _create_later(project.root, rel, f"TOKEN={marker}\n", 0.5, after="started")
    r = project.run(tier, f"touch started; for i in $(seq 40); do cat {rel} 2>/dev/null; sleep 0.1; done; echo done")
    t.join()
    assert marker not in r.output
    assert "withheld" in r.output and r.note and "ignore rules hide was opened" in r.note
    assert str(project.root / rel.split("/")[0]) in r.host_changed[0] or rel in r.host_changed[0]
    assert (project.root / rel).read_text() == f"TOKEN={marker}\n"  # the host's file stands
    r = project.run(tier, f"cat {rel} 2>&1; true")  # the next command sees it hidden
    assert marker not in r.output and not r.host_changed


def test_ordinary_new_names_do_not_stop_a_command(tier: Any, project: Project) -> None:
    """New ordinary files and directories, the host's and the command's, leave the command running."""
    t = threading.Thread(
        target=lambda: (
            time.sleep(0.5),
            (project.root / "build").mkdir(),
            (project.root / "build" / "out.txt").write_text("x\n"),
        )
    )
    t.start()
    r = project.run(tier, "mkdir -p gen/a && echo a > gen/a/notes.txt && sleep 1.5 && echo finished")
    t.join()
    assert "finished" in r.output and not r.host_changed


def test_a_command_may_write_a_hidden_file_it_makes(tier: Any, project: Project) -> None:
    """Writing a hidden name is ordinary work (a venv's ``cacert.pem``): the command runs to the end."""
    r = project.run(tier, "mkdir -p tls && echo A=1 > .env.local && cp /etc/hostname tls/ca.pem && echo finished")
    assert "finished" in r.output and not r.host_changed
    assert (project.root / ".env.local").read_text() == "A=1\n"


def test_a_command_that_reads_back_a_hidden_file_it_made_is_stopped(tier: Any, project: Project) -> None:
    """inotify cannot tell who opened a file: reading back its own ``.env.local`` fails closed, and
    the file (its own) is left where it made it."""
    r = project.run(tier, "echo A=1 > .env.local; cat .env.local; sleep 0.5; echo finished")
    assert "finished" not in r.output and "withheld" in r.output
    assert r.host_changed == (str(project.root / ".env.local"),)
    assert (project.root / ".env.local").read_text() == "A=1\n"


def test_a_command_may_read_back_a_certificate_bundle_it_made(tier: Any, project: Project) -> None:
    """pip writes certifi's ``cacert.pem`` into a new venv and reads it back to hash it: public by
    content, so the command runs on; a key made and read back the same way is still a stop."""
    cert = "-----BEGIN CERTIFICATE-----\\nMAMCAQU=\\n-----END CERTIFICATE-----\\n"  # a DER SEQUENCE, 5 bytes
    r = project.run(
        tier, f"mkdir -p tls && printf -- '{cert}{cert}' > tls/cacert.pem && sha256sum tls/cacert.pem && echo finished"
    )
    assert "finished" in r.output and not r.host_changed
    r = project.run(
        tier,
        f"printf -- '{cert}-----BEGIN PRIVATE KEY-----\\nAA==\\n' > tls/server.pem; cat tls/server.pem; echo finished",
    )
    assert "finished" not in r.output and r.host_changed == (str(project.root / "tls" / "server.pem"),)


def test_a_hidden_file_linked_in_by_the_host_may_not_be_opened_once(
    tier: Any, project: Project, tmp_path: Path
) -> None:
    """A hard link made while the command runs was not made by an open: its first open is a reader's."""
    src = tmp_path / "outside-secret.txt"
    marker = f"CWMARK-linked-{os.urandom(6).hex()}"
    src.write_text(f"TOKEN={marker}\n")

    def go() -> None:
        for _ in range(600):
            if (project.root / "started").exists():
                break
            time.sleep(0.02)
        time.sleep(0.5)
        os.link(src, project.root / "linked.key")

    t = threading.Thread(target=go)
    t.start()
    r = project.run(
        tier, "touch started; for i in $(seq 40); do cat linked.key 2>/dev/null && break; sleep 0.1; done; sleep 1"
    )
    t.join()
    assert marker not in r.output and "withheld" in r.output


def test_a_new_hidden_file_renamed_by_the_command_is_still_counted(tier: Any, project: Project) -> None:
    """The command renames the host's new ``.env.local`` to an ordinary name and reads that."""
    marker = f"CWMARK-renamed-{os.urandom(6).hex()}"
    t = _create_later(project.root, ".env.local", f"TOKEN={marker}\n", 0.5, after="started")
    r = project.run(
        tier,
        "touch started; for i in $(seq 40); do [ -e .env.local ] && mv .env.local n.txt && cat n.txt && break;"
        " sleep 0.1; done",
    )
    t.join()
    assert marker not in r.output and "withheld" in r.output


@pytest.mark.parametrize("watch_on", [True, WATCH_OFF])
def test_landlock_a_file_the_host_saves_at_a_held_name(
    landlock: Any, project: Project, watch_on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Landlock ``.env`` is moved out of the tree while a command runs; the host's editor
    saving it meanwhile makes a new file at that name, in the tree."""
    _switch(watch_on, monkeypatch)
    marker = f"CWMARK-held-{os.urandom(6).hex()}"
    t = _create_later(project.root, ".env", f"TOKEN={marker}\n", 0.5, after="started")
    r = project.run(landlock, "touch started; for i in $(seq 40); do cat .env 2>/dev/null; sleep 0.1; done; echo done")
    t.join()
    assert marker not in r.output
    assert "withheld" in r.output


HANDED_BACK_OFF = pytest.param(
    False,
    marks=pytest.mark.xfail(
        strict=True, raises=AssertionError, reason="control: not handed back, the file is only caught by a stop"
    ),
)


@pytest.mark.parametrize("handed_back", [True, HANDED_BACK_OFF])
def test_a_hidden_file_made_after_the_view_was_computed_is_hidden(
    tier: Any, project: Project, handed_back: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spec (and its hidden paths) is computed before the command starts; a hidden file made in
    between is handed back by the watch's queue and hidden too, so the command runs and cannot read
    it. Without the hand-back nothing covers it, and only the stop on its open keeps it back."""
    from dataclasses import replace

    from codeward.project import open_project

    project.run(tier, "true")  # a session: the watch exists from the first command on
    if not handed_back:
        from codeward.sandbox import new_names

        monkeypatch.setattr(new_names.NewNames, "prepare", lambda self, index, covered: [])
    spec = replace(open_project(project.root).sandbox_spec(), timeout_s=30.0)
    marker = f"CWMARK-between-{os.urandom(6).hex()}"
    (project.root / "src" / "prod.key").write_text(f"{marker}\n")
    r = tier.run(["bash", "-c", "cat src/prod.key 2>&1; echo ran"], spec)
    assert marker not in r.output
    assert "ran" in r.output and not r.host_changed  # hidden from the start: nothing to stop


@pytest.mark.parametrize("watch_on", [True, WATCH_OFF])
def test_a_hidden_name_the_host_creates_during_a_held_command(
    bwrap: Any, project: Project, watch_on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same under the view holder (a command forked into a namespace kept from an earlier
    command): the session's new-names watch is polled beside the holder's own watch."""
    from codeward.sandbox import view_holder

    monkeypatch.setattr(view_holder, "START_AT_FIRST", True)
    for _ in range(5):  # until a holder runs for an unchanged view
        project.run(bwrap, "true")
        pid = bwrap.slot.pid
        project.run(bwrap, "true")
        if pid is not None and bwrap.slot.pid == pid:
            break
    else:
        raise AssertionError("no holder was reused")
    _switch(watch_on, monkeypatch)
    marker = f"CWMARK-created-{os.urandom(6).hex()}"
    t = _create_later(project.root, ".env.local", f"TOKEN={marker}\n", 0.5, after="started")
    r = project.run(
        bwrap, "touch started; for i in $(seq 40); do cat .env.local 2>/dev/null; sleep 0.1; done; echo done"
    )
    t.join()
    assert bwrap.slot.pid in (pid, None)  # it ran held (and the stop took the holder down)
    assert marker not in r.output
    assert "withheld" in r.output
