"""The OS sandbox for model-requested commands (DESIGN §8).

Public interface::

    SandboxSpec, CommandResult, TierStatus, Sandbox      (codeward.sandbox.spec)
    select_sandbox(preference="auto", *, allow_unsandboxed=False, prober=None) -> Sandbox
    sandbox_status(prober=None) -> list[TierStatus]
    child_env(passthrough=()) -> dict[str, str]

Names are loaded on first use so ``import codeward.sandbox`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeward.sandbox.env import child_env
    from codeward.sandbox.spec import CommandResult, Sandbox, SandboxSpec, TierStatus
    from codeward.sandbox.tiers import sandbox_status, select_sandbox

_EXPORTS = {
    "SandboxSpec": "codeward.sandbox.spec",
    "CommandResult": "codeward.sandbox.spec",
    "TierStatus": "codeward.sandbox.spec",
    "Sandbox": "codeward.sandbox.spec",
    "select_sandbox": "codeward.sandbox.tiers",
    "sandbox_status": "codeward.sandbox.tiers",
    "child_env": "codeward.sandbox.env",
}

__all__ = [
    "CommandResult",
    "Sandbox",
    "SandboxSpec",
    "TierStatus",
    "child_env",
    "sandbox_status",
    "select_sandbox",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codeward.sandbox' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
