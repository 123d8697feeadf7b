"""codeward's own git calls on the host, with everything git could execute from a repository turned off.

A repository's config (and any file it includes) can name programs git runs on its own: hooks,
``core.fsmonitor``, ``core.sshCommand``, pagers and editors, credential helpers, clean/smudge
filters and textconv drivers. codeward runs git on the user's behalf (``doctor``, ``scan
--staged``) in repositories a model has worked in, so every such call goes through
:func:`git_command`, which overrides each of them on the command line (``-c`` wins over every
config file) and starts git with a scrubbed environment. Nothing here needs the sandbox.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from codeward.hostprog import host_path, program

# Settings that name a program git would run, with a value that runs nothing.
NEUTRAL: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", os.devnull),
    ("core.fsmonitor", "false"),
    ("core.sshCommand", "false"),
    ("core.askPass", ""),
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("sequence.editor", "false"),
    ("core.alternateRefsCommand", ""),
    ("credential.helper", ""),
    ("diff.external", ""),
    ("gpg.program", "false"),
    ("protocol.allow", "never"),
    ("uploadpack.packObjectsHook", ""),
)
# Per-driver settings (``filter.NAME.clean`` ...) and the value that makes each a no-op.
DRIVER_NEUTRAL: dict[str, str] = {"clean": "cat", "smudge": "cat", "process": "", "textconv": "cat"}
# Inherited variables that would point git at other config or programs.
DROPPED_ENV_PREFIXES = ("GIT_",)


def git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a host git call: no inherited ``GIT_*``, no system config, no prompts."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(DROPPED_ENV_PREFIXES)}
    env.update(
        {
            "PATH": host_path(env.get("PATH", "")),  # git, and what it starts, never from the workspace
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_NO_LAZY_FETCH": "1",  # a partial clone's missing objects are not fetched (git >= 2.44)
        }
    )
    return env


def _driver_overrides(cwd: Path, env: Mapping[str, str]) -> list[str]:
    """``-c`` pairs that neutralise every filter and diff driver the repository's config defines.

    ``git config`` reads config and runs nothing; its own hooks and fsmonitor are off anyway.
    """
    base = _pairs(NEUTRAL)
    try:
        out = subprocess.run(
            [
                program("git") or "git",
                *base,
                "config",
                "-z",
                "--name-only",
                "--get-regexp",
                r"^(filter|diff)\..*\.(clean|smudge|process|textconv)$",
            ],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    pairs: list[str] = []
    for name in out.decode("utf-8", "surrogateescape").split("\0"):
        name = name.strip()
        leaf = name.rsplit(".", 1)[-1].lower()
        if leaf in DRIVER_NEUTRAL and "\n" not in name and "=" not in name:
            pairs += ["-c", f"{name}={DRIVER_NEUTRAL[leaf]}"]
    return pairs


def _pairs(settings: Sequence[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for k, v in settings:
        out += ["-c", f"{k}={v}"]
    return out


def git_command(
    args: Sequence[str], cwd: Path | str, *, drivers: bool = True, env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment for ``git ARGS`` run by codeward in ``cwd``, with nothing executable left on.

    ``drivers=False`` skips looking up filter and textconv drivers (one ``git config`` process) for
    plumbing that never runs them (``ls-files``, ``update-index --skip-worktree``). ``env`` adds
    variables (``GIT_INDEX_FILE``) after the scrubbing.
    """
    full = git_env()
    full.update(env or {})
    extra = _driver_overrides(Path(cwd), full) if drivers else []
    return [program("git") or "git", *_pairs(NEUTRAL), *extra, *args], full
