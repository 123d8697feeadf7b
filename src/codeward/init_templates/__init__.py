"""Templates ``codeward init`` writes: the ignore file and the AGENTS.md policy skeleton."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

IGNORE_TEMPLATE = "codewardignore.txt"
AGENTS_TEMPLATE = "agents_policy.md"
_SECTION = re.compile(r"^#\s*-+\s*\[([a-z]+)\]")


def read_template(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def ignore_template() -> str:
    return read_template(IGNORE_TEMPLATE)


def agents_template() -> str:
    return read_template(AGENTS_TEMPLATE)


@cache
def ignore_sections() -> dict[str, tuple[str, ...]]:
    """Section name -> the template's patterns in it (``credentials``, ``cloud``, ``databases``, ...)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in ignore_template().splitlines():
        m = _SECTION.match(line)
        if m:
            current = sections.setdefault(m.group(1), [])
            continue
        s = line.strip()
        if current is not None and s and not s.startswith("#"):
            current.append(s)
    return {k: tuple(v) for k, v in sections.items()}


def policy_block() -> str:
    """The part of the AGENTS.md template from the ``## Command policy`` heading on."""
    text = agents_template()
    i = text.index("## Command policy")
    return text[i:]
