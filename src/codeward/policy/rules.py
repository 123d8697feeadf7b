"""The four policy lists (:class:`Policy`) and the check that every entry in them can be used.

Each entry is a :class:`~codeward.config.model.PolicyEntry` remembering the file and line it was
written on and whether the user or the repository owns it, so a decision can name its rule and a
repository's list can be kept from widening the user's (principle 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codeward.config.model import PolicyEntry
from codeward.errors import ConfigError
from codeward.policy.directories import normalize_dir_pattern
from codeward.policy.patterns import PatternError, compile_pattern

COMMAND_KEYS = ("disallow_commands", "allow_commands")
DIRECTORY_KEYS = ("allow_directories", "disallow_directories")


@dataclass
class Policy:
    """The four lists, each entry remembering where it was written and who owns it."""

    disallow_commands: list[PolicyEntry] = field(default_factory=list)
    allow_commands: list[PolicyEntry] = field(default_factory=list)
    allow_directories: list[PolicyEntry] = field(default_factory=list)
    disallow_directories: list[PolicyEntry] = field(default_factory=list)

    def extend(self, other: Policy) -> Policy:
        self.disallow_commands.extend(other.disallow_commands)
        self.allow_commands.extend(other.allow_commands)
        self.allow_directories.extend(other.allow_directories)
        self.disallow_directories.extend(other.disallow_directories)
        return self

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        """From a :class:`codeward.config.model.PolicyConfig`."""
        return cls(
            disallow_commands=list(config.disallow_commands),
            allow_commands=list(config.allow_commands),
            allow_directories=list(config.allow_directories),
            disallow_directories=list(config.disallow_directories),
        )


def check_patterns(policy: Policy) -> None:
    """Raise ConfigError naming the entry's source for any pattern that cannot be used."""
    for key in COMMAND_KEYS:
        for e in getattr(policy, key):
            try:
                compile_pattern(e.pattern)
            except PatternError as err:
                raise ConfigError(f"{e.source}: {key} entry {e.pattern!r}: {err}") from None
    for key in DIRECTORY_KEYS:
        for e in getattr(policy, key):
            try:
                normalize_dir_pattern(e.pattern)
            except PatternError as err:
                raise ConfigError(f"{e.source}: {key} entry {e.pattern!r}: {err}") from None
