"""The table of trust: every config key and every AGENTS.md key, its check and who may set it.

DESIGN principle 2: what a repository ships (``.codeward/config.toml``, AGENTS.md) can only narrow
what the agent may do. Each key here has one class:

- ``user-only``: only the user's own config, profile, ``-c`` or a flag may set it; a repository's
  value is refused with a notice (provider, model, endpoints, headers, keys, env passthrough, tier,
  unsafe flags, scanner rules, history location, ...).
- ``narrowable``: a repository may set it only in the stricter direction, by the key's ``rule``:
  ``stricter`` (a value no looser than the current one, in ``order`` from strictest to loosest),
  ``min`` (the smaller of the two limits), ``union`` (entries added to a deny list),
  ``narrow-allowlist`` (entries kept as the repository's own, which the policy engine intersects
  with the user's list) or ``intersect`` (entries kept only when an existing user entry already
  covers them: a repository can never create or widen a network allowlist).
- ``free``: no bearing on what leaves the machine or runs; anyone may set it. No key is free today;
  the class exists so that a new key must be placed deliberately.

For config files the loader (:mod:`codeward.config.narrow`) enforces exactly this table. AGENTS.md
has only the four policy keys (``AGENTS_MD_KEYS``, the same rows as ``[policy]``); their entries stay
marked as the repository's and the policy engine applies ``union`` / ``narrow-allowlist`` to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from codeward.config import values as v
from codeward.config.model import WIRE_APIS
from codeward.modes import APPROVAL_MODES

TIERS: tuple[str, ...] = ("auto", "bwrap", "landlock", "seatbelt", "none")
REASONING_EFFORTS: tuple[str, ...] = ("minimal", "low", "medium", "high")
REASONING_SUMMARIES: tuple[str, ...] = ("auto", "concise", "detailed", "none")
POLICY_KEYS: tuple[str, ...] = ("disallow_commands", "allow_commands", "allow_directories", "disallow_directories")


class Trust(Enum):
    USER_ONLY = "user-only"
    NARROWABLE = "narrowable"
    FREE = "free"


@dataclass(frozen=True)
class Key:
    """One key: how its value is checked, who may set it and, when narrowable, how."""

    check: v.Check
    trust: Trust
    rule: str | None = None
    order: tuple[Any, ...] = ()
    why: str = ""
    """For user-only keys: what a repository could do with it (shown when its value is refused)."""


def _user(check: v.Check, why: str) -> Key:
    return Key(check, Trust.USER_ONLY, why=why)


def _narrow(check: v.Check, rule: str, order: tuple[Any, ...] = ()) -> Key:
    return Key(check, Trust.NARROWABLE, rule, order)


_ENDPOINT = "it decides where your code and key are sent"
_SANDBOX = "it would loosen the sandbox"
_SCANNER = "it decides what the secret scanner lets through"
_MODEL = "it changes how the model is asked (a repository may not tune the requests)"

PROVIDER_ALIASES: dict[str, str] = {"baseURL": "base_url", "envKey": "env_key", "http_headers": "headers"}
"""The seed guide's camelCase (and Codex's ``http_headers``) for canonical provider keys."""

PROVIDER_KEYS: dict[str, Key] = {
    "name": _user(v.text, _ENDPOINT),
    "base_url": _user(v.url, _ENDPOINT),
    "env_key": _user(v.text, "it decides which secret is read and sent"),
    "wire_api": _user(v.choice(WIRE_APIS), _ENDPOINT),
    "headers": _user(v.str_table, "headers can carry credentials or route requests"),
    "query_params": _user(v.str_table, _ENDPOINT),
    "key_command": _user(v.argv, "it runs a program on your machine to fetch a key"),
    "key_command_timeout_ms": _user(v.integer(100, 600_000), _ENDPOINT),
    "requires_key": _user(v.boolean, _ENDPOINT),
    "request_max_retries": _user(v.integer(0, 100), _ENDPOINT),
    "stream_max_retries": _user(v.integer(0, 100), _ENDPOINT),
    "stream_idle_timeout_ms": _user(v.integer(100, 3_600_000), _ENDPOINT),
    "connect_timeout_ms": _user(v.integer(100, 600_000), _ENDPOINT),
}

KEYS: dict[str, Key] = {
    "provider": _user(v.text, _ENDPOINT),
    "model": _user(v.text, "routing gateways choose the upstream by model name"),
    "approval_mode": _narrow(v.choice(APPROVAL_MODES), "stricter", APPROVAL_MODES),
    "max_steps": _narrow(v.integer(1, 10_000), "min"),
    "model_context_window": _narrow(v.integer(1_000, 100_000_000), "min"),
    "model_auto_compact_token_limit": _narrow(v.integer(1_000, 100_000_000), "min"),
    "model_reasoning_effort": _user(v.choice(REASONING_EFFORTS), _MODEL),
    "model_reasoning_summary": _user(v.choice(REASONING_SUMMARIES), _MODEL),
    "request_timeout_ms": _user(v.integer(1_000, 3_600_000), _MODEL),
    "sandbox.network": _narrow(v.boolean, "stricter", (False, True)),
    "sandbox.allowed_domains": _narrow(v.domains, "intersect"),
    "sandbox.env_passthrough": _user(v.str_list, "it would hand your environment's secrets to commands"),
    "sandbox.writable_roots": _user(v.str_list, _SANDBOX),
    "sandbox.readable_roots": _user(v.str_list, _SANDBOX),
    "sandbox.timeout_ms": _narrow(v.integer(100, 86_400_000), "min"),
    "sandbox.output_cap_bytes": _narrow(v.integer(1024, 1 << 30), "min"),
    "sandbox.max_file_size_bytes": _narrow(v.integer(1024, 1 << 40), "min"),
    "sandbox.max_processes": _narrow(v.integer(16, 1 << 20), "min"),
    "sandbox.tier": _user(v.choice(TIERS), _SANDBOX),
    "sandbox.unsafe_allow_unsandboxed": _user(v.boolean, _SANDBOX),
    "sandbox.keep_warm_s": _narrow(v.integer(0, 86_400), "min"),
    "policy.disallow_commands": _narrow(v.str_list, "union"),
    "policy.disallow_directories": _narrow(v.str_list, "union"),
    "policy.allow_commands": _narrow(v.str_list, "narrow-allowlist"),
    "policy.allow_directories": _narrow(v.str_list, "narrow-allowlist"),
    "privacy.redact_pii": _narrow(v.boolean, "stricter", (True, False)),
    "privacy.rules": _user(v.str_or_list, _SCANNER),
    "privacy.allowlist": _user(v.str_list, _SCANNER),
    "audit.enabled": _narrow(v.boolean, "stricter", (True, False)),
    "audit.dir": _user(v.text, "it decides where the audit log is written"),
    "audit.sink": _user(v.text, "it decides where the audit records are sent"),
    "audit.require_sink": _narrow(v.boolean, "stricter", (True, False)),
    "history.persistence": _narrow(v.choice(("save-all", "none")), "stricter", ("none", "save-all")),
}

TABLE_KEYS: dict[str, str] = {
    "providers": "user-only: [providers.ID] tables (every provider key below is user-only)",
    "profiles": "user-only: [profiles.NAME] tables, read only from your own config.toml",
}

AGENTS_MD_KEYS: dict[str, Key] = {name: KEYS[f"policy.{name}"] for name in POLICY_KEYS}
"""The policy blocks of a repository's AGENTS.md: the same classes as ``[policy]`` (merged by the policy engine)."""

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(k.split(".")[0] for k in KEYS if "." in k))


def lookup(dotted: str) -> Key | None:
    """The table entry for a canonical dotted key (``providers.ID.base_url`` finds the provider key)."""
    if dotted.startswith("providers."):
        parts = dotted.split(".")
        return PROVIDER_KEYS.get(parts[-1]) if len(parts) == 3 else None
    return KEYS.get(dotted)


def describe(key: Key) -> str:
    """``user-only``, ``narrowable (min)``, ...: how the README and ``config explain`` name a class."""
    return f"{key.trust.value} ({key.rule})" if key.rule else key.trust.value
