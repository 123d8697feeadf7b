"""Apply the table of trust (:mod:`codeward.config.keys`) to a repository's config layer.

The result keeps only values that narrow what the agent may do, judged against the config so far
(built-in defaults and the user's own file); each value dropped becomes a :class:`Refusal`, which
the loader turns into a notice for the session, ``doctor`` and ``codeward config explain``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from codeward.allowlist import covers, parse_entry
from codeward.config.keys import Key, Trust, lookup
from codeward.config.layers import Layer
from codeward.config.model import Refusal

Current = Callable[[str], Any]


def _domains(key: str, value: list[str], origin: str, current: list[str]) -> tuple[list[str] | None, Refusal | None]:
    """``intersect``: keep the repository's entries that one of the user's entries already covers."""
    if not current:
        why = "a repository may not create a network allowlist; add the hosts to your own config.toml if you trust them"
        return None, Refusal(key, value, origin, why)
    mine = [parse_entry(d) for d in current]
    kept = [d for d in value if any(covers(m, parse_entry(d)) for m in mine)]
    dropped = [d for d in value if d not in kept]
    refusal = None
    if dropped:
        why = "a repository may only narrow your allowlist, and these are not in it: " + ", ".join(dropped)
        refusal = Refusal(key, dropped, origin, why)
    return kept, refusal


def _judge(key: str, spec: Key, value: Any, origin: str, current: Current) -> tuple[bool, Any, Refusal | None]:
    """(keep?, the value to keep, the refusal to report) for one narrowable key."""
    cur = current(key)
    if spec.rule == "stricter":
        if spec.order.index(value) <= spec.order.index(cur):
            return True, value, None
        why = f"a repository may only make it stricter ({json.dumps(value)} is looser than {json.dumps(cur)})"
        return False, None, Refusal(key, value, origin, why)
    if spec.rule == "min":
        if cur is None or value <= cur:
            return True, value, None
        return False, None, Refusal(key, value, origin, f"a repository may only lower it (the current value is {cur})")
    if spec.rule in ("union", "narrow-allowlist"):
        return True, value, None  # entries stay marked as the repository's; the policy engine narrows with them
    if spec.rule == "intersect":
        kept, refusal = _domains(key, value, origin, cur)
        return kept is not None, kept, refusal
    raise AssertionError(f"no narrowing rule {spec.rule!r} for {key}")  # the table and this code disagree


def narrow(layer: Layer, current: Current) -> tuple[Layer, list[Refusal]]:
    """The part of a repository ``layer`` that only narrows, and what was refused (and why)."""
    kept = Layer(layer.name, user_owned=False)
    refusals: list[Refusal] = []
    if layer.profiles:
        refusals.append(
            Refusal("profiles", sorted(layer.profiles), layer.origins["profiles"], "profiles are user-only")
        )
    refused_providers: set[str] = set()
    for key, value in layer.values.items():
        origin = layer.origins[key]
        spec = lookup(key)
        assert spec is not None, key  # flatten() only produces keys of the table
        if spec.trust is Trust.FREE:
            kept.set(key, value, origin)
        elif spec.trust is Trust.USER_ONLY:
            if key.startswith("providers."):
                table = key.rsplit(".", 1)[0]
                if table not in refused_providers:
                    refused_providers.add(table)
                    refusals.append(Refusal(table, "a table", layer.origins.get(table, origin), spec.why))
                continue
            refusals.append(Refusal(key, value, origin, spec.why))
        else:
            keep, final, refusal = _judge(key, spec, value, origin, current)
            if keep:
                kept.set(key, final, origin)
            if refusal is not None:
                refusals.append(refusal)
    return kept, refusals
