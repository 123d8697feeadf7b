"""Directory entries written for an enclosing project, seen from a repository nested inside it.

A project's ``disallow_directories`` / ``allow_directories`` entries are paths from *its* root
(``vendor/lib/data/``). When codeward runs in the nested repository ``vendor/lib``, the same rule
must keep holding, written from the new root (``data/``). :func:`reanchor` makes that translation
for plain paths and globs alike, so the enclosing project's policy narrows the nested one (DESIGN
principle 2) without the rest of codeward knowing where an entry was first written.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from codeward.errors import ConfigError

WHOLE = ""
"""What :func:`reanchor` returns for an entry that covers the whole nested workspace."""


def reanchor(pattern: str, prefix: str) -> list[str] | None:
    """``pattern`` (from the enclosing root) as patterns from the nested root at ``prefix``.

    ``[]``: the entry names nothing in the nested workspace; ``[WHOLE]``: it covers all of it;
    ``None``: the pattern is not a usable entry (``..``, empty), left for the policy check to refuse
    with its own message. ``**`` matches any number of directories, ``*``/``?``/``[...]`` one name.
    """
    p = pattern.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    p = p.strip("/")
    if not p or p == "." or any(part == ".." for part in p.split("/")):
        return None
    parts = [x for x in p.split("/") if x not in ("", ".")]
    states = {0}
    for name in (x for x in prefix.split("/") if x):
        nxt: set[int] = set()
        for i in states:
            if i == len(parts):
                return [WHOLE]  # a directory above the workspace: everything under it
            if parts[i] == "**":
                nxt.add(i)  # ``**`` takes this directory too
                if i + 1 == len(parts):
                    return [WHOLE]
                if fnmatchcase(name, parts[i + 1]):
                    nxt.add(i + 2)
            elif fnmatchcase(name, parts[i]):
                nxt.add(i + 1)
        states = nxt
        if not states:
            return []
    out: list[str] = []
    for i in sorted(states):
        rest = parts[i:]
        if not rest or rest == ["**"]:
            return [WHOLE]
        out.append("/".join(rest))
    return out


def moved_entry(key: str, entry: str, prefix: str) -> list[str]:
    """One ``disallow_directories`` / ``allow_directories`` entry of an enclosing project, seen from
    the nested workspace at ``prefix``: ``*`` / ``./`` for an entry covering all of it, nothing for
    one that names no directory there; an unusable entry is kept as written, for the policy check to
    refuse with its own message."""
    moved = reanchor(entry, prefix)
    if moved is None:
        return [entry]
    whole = "*" if key.endswith("disallow_directories") else "./"
    return [whole if m == WHOLE else m for m in moved]


def nothing_allowed(entries: list[str], prefix: str, origin: str) -> ConfigError:
    """The refusal for an enclosing allow list that names no directory of the nested workspace.

    Such a list means the enclosing project lets the agent modify nothing here; no list of entries
    can say that, so the run is refused rather than given a wider policy than the project wrote.
    """
    listed = ", ".join(f"'{e}'" for e in entries)
    return ConfigError(
        f"{origin}: allow_directories ({listed}) lets the agent modify nothing in this workspace, which that "
        f"project holds at {prefix}/: run codeward in the enclosing project, or add '{prefix}/' to its list"
    )
