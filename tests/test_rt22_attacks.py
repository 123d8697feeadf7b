"""Red team rt22: the Landlock object-store view after rt21 (forged store in the codeward home, the
view's pack in /tmp).

/tmp is shared with the command when the network is off and no workspace or home lies below it (a
Docker CI checkout at /src, a user's checkout in their home): the fixtures put the workspace, HOME
and CODEWARD_HOME outside /tmp (in /var/tmp) for that reason. Both failed on ed9d249, whose views
lay in /tmp; views are now made in the codeward home, which no command can write. Both tests drive one project across
two commands, as a session does (``ctx.project.sandbox_spec()`` per command, one process).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.privacy.history_repo import AWS
from tests.sandbox.test_landlock_store import SHIFT, _landlock, _leaks
from tests.support.shared_tmp import leaky_outside_tmp, session_specs

pytestmark = pytest.mark.sandbox


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with leaky_outside_tmp(monkeypatch) as repo:
        yield repo


HOME_SECRET = "home-only-Zx81Qp44Lm09Rt27Vy63Kd15"
FAKE = "aa" + "1" * 38  # the id the planted replace entry is filed under in the next forged store


# Command 1: the forged store's info/alternates names the view in /tmp. Remove the view's objects
# directory (so that the next command's _forged() drops the cached forged store and makes a new one)
# and rewrite its replace entries: _forged() reads ``view.objects / new[:2] / new[2:]``, and an
# absolute new[2:] makes that any path on the host, read unconfined before the store is held.
PLANT = r"""
ALT=$(cat .git/objects/info/alternates); V=$(dirname "$ALT")
ID=$(git rev-parse HEAD~1:.env)
L1=$(echo $ID | cut -c1-2); L2=$(echo $ID | cut -c3-)
rm -rf "$ALT" "$V"/replace/*
printf 'xx%s\n' "$PWD/.git/objects/$L1/$L2" > "$V/replace/FAKE"
printf 'xx%s\n' "$HOME_PATH/token.txt" > "$V/replace/bb2222222222222222222222222222222222222"
cat "$HOME_PATH/token.txt" 2>&1 | head -1
echo planted
"""
# Command 2: read the files the host copied into this command's forged store.
READ = (
    "python3 -c \"import zlib;print(zlib.decompress(open('.git/objects/aa/"
    + FAKE[2:]
    + "','rb').read()))\" | "
    + SHIFT
    + "; echo; cat .git/objects/bb/2222222222222222222222222222222222222 | "
    + SHIFT
)


def _shifted_back(out: str) -> str:
    return "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in out)


def test_a_planted_replace_entry_makes_the_next_forged_store_copy_any_host_file(outside: Path) -> None:
    """The view's directory in /tmp is writable by the command (/tmp shared; as root the command
    keeps CAP_DAC_OVERRIDE). Deleting its objects directory invalidates the cached forged store, and
    _forged() rebuilds it from the view's replace directory without checking that an entry names a
    hex id inside the view: the host copies the real store's loose blob (and any file it can read,
    here one in $HOME, hidden from commands) into the next command's forged store."""
    sb = _landlock()
    spec = session_specs(outside)
    home = os.environ["HOME"]
    Path(home, "token.txt").write_text(HOME_SECRET + "\n")  # a file in $HOME, hidden from commands
    plant = PLANT.replace("FAKE", FAKE).replace("$HOME_PATH", home)
    first = sb.run(["sh", "-c", plant], spec())
    assert "planted" in first.output, first.output
    assert HOME_SECRET not in first.output  # the command cannot read $HOME itself
    second = sb.run(["sh", "-c", READ], spec())
    back = _shifted_back(second.output)
    leaked = [*_leaks(second.output), *([HOME_SECRET] if HOME_SECRET[2:] in back else [])]
    assert leaked == [], f"read through the rebuilt forged store: {leaked}"
    assert AWS[2:] not in back


# what ``rm -rf /tmp/*`` does to this session's view (kept to this process's own directory here)
CLEAN = 'rm -rf "$(dirname "$(dirname "$(cat .git/objects/info/alternates)")")"/*; echo cleaned'


def test_removing_the_view_in_tmp_refuses_every_later_command_of_the_session(outside: Path) -> None:
    """An honest cleanup (``rm -rf /tmp/*`` in a CI script or a test suite's teardown) deletes the
    view's directory: the session keeps the cached ObjectView (the store's stamp is unchanged), and
    _forged() cannot scan its replace directory, so every later command is refused until codeward
    restarts or the user's store changes."""
    from codeward.errors import SandboxUnavailable

    sb = _landlock()
    spec = session_specs(outside)
    first = sb.run(["sh", "-c", CLEAN], spec())
    assert "cleaned" in first.output
    try:
        second = sb.run(["sh", "-c", "git log --oneline | wc -l"], spec())
    except SandboxUnavailable as e:
        pytest.fail(f"the next command was refused: {e}")
    assert second.exit_code == 0, second.output
