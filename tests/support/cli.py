"""Run ``codeward exec`` against the scripted model server and read its event stream."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cw_subprocess import run_cw

# ---- exec against the scripted model server ------------------------------------------------

FAKE_KEY = "sk-scripted-provider-key-5309-abcdef"


@dataclass
class Run:
    """A finished ``codeward`` run, with the ``--json`` event stream parsed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def items(self, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        out = [e["item"] for e in self.events if e["type"] == "item.completed"]
        return [i for i in out if (kind is None or i["type"] == kind) and (status is None or i.get("status") == status)]


def write_config(home: Path, url: str, wire: str = "chat", extra: str = "") -> None:
    """A user config.toml whose provider is the scripted server (key in $SCRIPTED_KEY)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'provider = "scripted"\nmodel = "scripted-model"\n{extra}\n'
        f'[providers.scripted]\nname = "Scripted"\nbaseURL = "{url}"\nenvKey = "SCRIPTED_KEY"\nwire_api = "{wire}"\n'
    )


def codeward(
    *args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Run:
    """:func:`run_cw` with the scripted provider's key in the environment."""
    p = run_cw(*args, cwd=cwd, input=input, env={"SCRIPTED_KEY": FAKE_KEY, **(env or {})}, timeout=timeout)
    return Run(p.returncode, p.stdout, p.stderr)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
