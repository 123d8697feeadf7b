"""httpx, without its command-line client.

httpx imports its own CLI (click, rich, pygments: ~35 ms) whenever those are installed, and they
are codeward's dependencies too. codeward never uses that CLI, so it is kept from loading: every
module that needs httpx imports it from here.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

__all__ = ["httpx"]
