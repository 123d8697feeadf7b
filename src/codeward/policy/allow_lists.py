"""Which ``allow_*`` lists a command or an edit must each pass (DESIGN §3, principle 2).

A repository file can only narrow what the agent may do. So entries are not pooled into one list:
the user's own entries (their config, ``$CODEWARD_HOME/AGENTS.md``, flags) form one list, which the
user may widen as they like, and each repository file (a nested AGENTS.md, an enclosing project's
AGENTS.md, a ``.codeward/config.toml``) forms a list of its own. Something is allowed only when every
list lets it through: a nested repository's AGENTS.md that lists ``make`` cannot add ``make`` to an
enclosing one that lists only ``npm test``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from codeward.policy.decision import file_of


class _Entry(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def user_owned(self) -> bool: ...


E = TypeVar("E", bound=_Entry)


def allow_groups(entries: Iterable[E]) -> list[list[E]]:
    """The user's entries as one list (first, when any), then one list per repository file, in order."""
    user: list[E] = []
    by_file: dict[str, list[E]] = {}
    for e in entries:
        if e.user_owned:
            user.append(e)
        else:
            by_file.setdefault(file_of(e.source), []).append(e)
    return ([user] if user else []) + list(by_file.values())
