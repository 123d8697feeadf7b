"""Building policies for tests: each entry gets a distinct, predictable source."""

from __future__ import annotations

from codeward.config.model import PolicyEntry
from codeward.policy import Policy


def make_policy(
    disallow: list[str] = (),  # type: ignore[assignment]
    allow: list[str] = (),  # type: ignore[assignment]
    *,
    user_allow: list[str] = (),  # type: ignore[assignment]
    user_disallow: list[str] = (),  # type: ignore[assignment]
    allow_dirs: list[str] = (),  # type: ignore[assignment]
    user_allow_dirs: list[str] = (),  # type: ignore[assignment]
    disallow_dirs: list[str] = (),  # type: ignore[assignment]
) -> Policy:
    """Repository entries come from ``AGENTS.md:<n>``; user entries from ``config.toml``."""
    line = iter(range(1, 1000))

    def repo(items: list[str]) -> list[PolicyEntry]:
        return [PolicyEntry(p, f"AGENTS.md:{next(line)}", False) for p in items]

    def user(items: list[str]) -> list[PolicyEntry]:
        return [PolicyEntry(p, "/home/u/.codeward/config.toml", True) for p in items]

    return Policy(
        disallow_commands=repo(list(disallow)) + user(list(user_disallow)),
        allow_commands=repo(list(allow)) + user(list(user_allow)),
        allow_directories=repo(list(allow_dirs)) + user(list(user_allow_dirs)),
        disallow_directories=repo(list(disallow_dirs)),
    )
