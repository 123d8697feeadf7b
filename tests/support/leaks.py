"""A transform no known-value matching follows, and how to find a secret in its output."""

from __future__ import annotations

SHIFT = "python3 -c 'import sys;sys.stdout.write(\"\".join(chr(ord(c)+1) for c in sys.stdin.read()))'"
"""Every character of stdin moved up by one (``a`` -> ``b``): the value comes out in no encoding."""


def shifted_leaks(secret: str, text: str) -> list[str]:
    """10-character pieces of ``secret`` in ``text`` as it is or shifted back by one."""
    found: list[str] = []
    for d in (text, "".join(chr(ord(c) - 1) if ord(c) > 33 else c for c in text)):
        found += [secret[i : i + 10] for i in range(len(secret) - 9) if secret[i : i + 10] in d]
    return sorted(set(found))
