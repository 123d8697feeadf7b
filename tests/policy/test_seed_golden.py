"""The seed guide's deny list means what it says in full-auto (issue 12), judged by real programs.

``test_decision`` checks each row of :mod:`seed_rows` against the engine. ``test_real_effect`` runs
the row's command with real bash, real interpreters (python3, perl, node, mawk, GNU sed and tar,
gdb, vim, find) and real git against a local bare repository, in a scratch directory; programs the
rules name are replaced on ``PATH`` by shims that log their argv (``rm``, ``chmod`` and ``dd``
then do their real work on the scratch files; ``sudo``, ``doas``, ``pkexec``, ``su``, ``runuser`` and the ``mkfs``
family only log). The row's judge must see the effect the row claims: each denied attack really
does what the rule forbids (the control), and each near miss that stays allowed really does not.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from policy_helpers import make_policy
from seed_rows import ROWS

from codeward.policy import decide_command

SEED = ["rm -rf", "curl | bash", "git push --force", "chmod 777", "sudo", "dd", "mkfs"]
POLICY = make_policy(disallow=SEED)
BASH = shutil.which("bash")

LOGGING = ("sudo", "doas", "pkexec", "su", "runuser", "mkfs", "mkfs.ext4", "mkfs.vfat", "mke2fs", "curl")
PASSING = ("rm", "chmod", "dd")
TOOLS = {"python3": sys.executable}
NEEDS = ("perl", "node", "awk", "sed", "tar", "gdb", "vim", "ex", "find", "git", "shred", "xargs", "make")

IDS = [f"{i:03d}:{r[0][:50]!r}" for i, r in enumerate(ROWS)]


@pytest.mark.parametrize(("command", "decision", "rule", "judge", "effect"), ROWS, ids=IDS)
def test_decision(command: str, decision: str, rule: str | None, judge: str | None, effect: bool | None) -> None:
    d = decide_command(command, "full-auto", POLICY)
    assert (d.decision, d.rule) == (decision, rule), d.reason
    assert d.reason and "\n" not in d.reason


def test_table_is_large_and_consistent() -> None:
    assert len(ROWS) >= 150
    assert len({r[0] for r in ROWS}) == len(ROWS), "duplicate commands"
    for command, decision, _rule, judge, effect in ROWS:
        # an attack that works must not be allowed; an allowed near miss must be harmless
        if judge is not None and effect is True:
            assert decision != "allow", command
        if judge is not None and decision == "allow":
            assert effect is False, command
        if judge is not None and decision == "deny" and effect is not None:
            assert effect is True, command
    oracled = [r for r in ROWS if r[3] is not None and r[4] is not None]
    assert len(oracled) >= 150


# ------------------------------------------------------------------------------------------------
# the oracle

_ABSOLUTE = re.compile(r"(?:^|[\s'\"=(,\[])/(?!dev/zero\b|dev/null\b|dev/stdin\b|usr/bin/dd\b)")
_REGEX_SCRIPT = re.compile(r"^(sed|perl|vim)\b")


def _is_safe(command: str) -> bool:
    """Oracle rows name no absolute path but /dev/zero, /dev/null, /dev/stdin and /usr/bin/dd (sed, perl and vim
    scripts use '/' as a regex delimiter, so their quoted scripts are not read as paths)."""
    text = re.sub(r"'[^']*'", "''", command) if _REGEX_SCRIPT.match(command) else command
    return not _ABSOLUTE.search(text) and ".." not in text


def _shims(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir()
    for name in LOGGING + PASSING:
        real = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
        run = f'exec {real} "$@"' if name in PASSING and real else "exit 0"
        script = f"#!/bin/sh\n{{ printf '%s\\037' {name} \"$@\"; printf '\\036'; }} >> '{log}'\n{run}\n"
        p = bin_dir / name
        p.write_text(script)
        p.chmod(0o755)
    for name, path in TOOLS.items():
        (bin_dir / name).symlink_to(path)


def _git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


def _scratch(tmp: Path, env: dict[str, str]) -> tuple[Path, str]:
    """The working tree every command runs in; for git rows, a clone whose main has diverged."""
    work = tmp / "work"
    remote = tmp / "remote.git"
    _git(tmp, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    _git(tmp, "clone", "-q", str(remote), str(work), env=env)
    (work / "notes.txt").write_text("line a\nrm -rf here\n")
    (work / "names.txt").write_text("x\n")
    (work / "cmds.txt").write_text("rm -rf x\n")
    (work / "tail.txt").write_text("m -rf x\n")
    (work / "notes.json").write_text('{"a": 1}\n')
    _git(work, "add", "-A", env=env)
    _git(work, "commit", "-q", "-m", "a1", env=env)
    _git(work, "push", "-q", "origin", "main", env=env)
    _git(work, "commit", "-q", "--allow-empty", "-m", "a2", env=env)
    _git(work, "push", "-q", "origin", "main", env=env)
    _git(work, "reset", "-q", "--hard", "HEAD~1", env=env)
    _git(work, "commit", "-q", "--allow-empty", "-m", "b", env=env)
    local_tip = _git(work, "rev-parse", "HEAD", env=env)
    for d in ("x", "build", "d"):
        (work / d).mkdir()
    for f in ("x/a", "x/b", "build/o.o", "f", "img", "blk"):
        (work / f).write_text("data\n")
    (work / "f").chmod(0o644)
    return work, local_tip


def _logged(log: Path) -> list[list[str]]:
    raw = log.read_bytes().decode("utf-8", "surrogateescape") if log.exists() else ""
    return [rec.split("\x1f")[:-1] for rec in raw.split("\x1e")[:-1]]


def _rm_recursive_force(argv: list[str]) -> bool:
    """An independent reading of "rm with recursive and force" on an argv that really ran."""
    recursive = force = False
    for a in argv[1:]:
        if a == "--":
            break
        if a == "--recursive":
            recursive = True
        elif a == "--force":
            force = True
        elif a.startswith("-") and not a.startswith("--"):
            recursive = recursive or "r" in a or "R" in a
            force = force or "f" in a
    return recursive and force


def _judge(judge: str, work: Path, tmp: Path, ran: list[list[str]], local_tip: str, env: dict[str, str]) -> bool:
    names = [argv[0] for argv in ran if argv]
    if judge == "rm":
        return any(argv[0] == "rm" and _rm_recursive_force(argv) for argv in ran)
    if judge == "deletes":
        return any(not (work / f).exists() for f in ("x/a", "x/b", "build/o.o"))
    if judge == "chmod":
        return any(
            stat.S_IMODE(p.stat().st_mode) & 0o777 == 0o777 for p in [work, *work.rglob("*")] if ".git" not in p.parts
        )
    if judge == "push":
        return _git(tmp / "remote.git", "rev-parse", "refs/heads/main", env=env) == local_tip
    if judge == "dd":
        return "dd" in names
    if judge == "mkfs":
        return any(n in ("mkfs", "mke2fs") or n.startswith("mkfs.") for n in names)
    if judge == "sudo":
        return any(n in ("sudo", "doas", "pkexec", "su", "runuser") for n in names)
    raise AssertionError(f"unknown judge {judge}")


ORACLE_ROWS = [r for r in ROWS if r[3] is not None and r[4] is not None]
ORACLE_IDS = [f"{i:03d}:{r[0][:50]!r}" for i, r in enumerate(ORACLE_ROWS)]


@pytest.mark.skipif(BASH is None, reason="bash is not installed on this machine")
@pytest.mark.parametrize(("command", "decision", "rule", "judge", "effect"), ORACLE_ROWS, ids=ORACLE_IDS)
def test_real_effect(command: str, decision: str, rule: str | None, judge: str, effect: bool, tmp_path: Path) -> None:
    assert _is_safe(command), f"oracle rows may only name scratch paths: {command!r}"
    program = re.split(r"[\s;|]", command.replace("env ", "").replace("timeout 5 ", "").strip(), maxsplit=1)[0]
    for tool in NEEDS:
        if program == tool and shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed here, so the real effect cannot be shown")
    log = tmp_path / "argv.log"
    bin_dir = tmp_path / "bin"
    _shims(bin_dir, log)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "SHELL": "/bin/sh",
    }
    work, local_tip = _scratch(tmp_path, env)
    proc = subprocess.run(
        [BASH or "bash", "-c", command],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    try:
        seen = _judge(judge, work, tmp_path, _logged(log), local_tip, env)
    finally:
        _reopen(work)
    assert seen is effect, (command, proc.returncode, proc.stderr.decode(errors="replace")[-400:], _logged(log))


def _reopen(d: Path) -> None:
    """Give the owner back ``rwx`` on every directory below ``d`` (a ``chmod -R 640`` row leaves
    them unlistable): pytest keeps ``tmp_path`` in the shared ``/tmp``, where, as a normal user, a
    later Landlock test's search for other names of a secret refuses on a directory it cannot list."""
    st = d.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        return
    os.chmod(d, stat.S_IMODE(st.st_mode) | 0o700)
    for entry in os.scandir(d):
        _reopen(Path(entry.path))


def test_the_oracle_can_tell(tmp_path: Path) -> None:
    """Control for the harness: the shims log, the judges see both outcomes."""
    assert _rm_recursive_force(["rm", "-r", "--force", "x"]) and not _rm_recursive_force(["rm", "-r", "x"])
    assert not _is_safe("rm -rf /") and not _is_safe("chmod 777 /etc/passwd") and _is_safe("chmod 777 f")
    log = tmp_path / "l"
    _shims(tmp_path / "bin", log)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    subprocess.run(["sh", "-c", "sudo -n ls x; mkfs.ext4 img"], env=env, check=True, timeout=30)
    assert _logged(log) == [["sudo", "-n", "ls", "x"], ["mkfs.ext4", "img"]]
    assert os.access(tmp_path / "bin" / "rm", os.X_OK)
