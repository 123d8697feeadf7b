"""codeward: a terminal AI coding agent that keeps code, keys and machine under the user's control."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

if _sys.argv[:1] == ["-m"] and _sys.path and _sys.path[0] in ("", _os.getcwd()):
    # ``python -m codeward`` in a project puts the working directory (the workspace) first on the
    # import path: every module imported after this one (click, httpx, json) would be looked for
    # where commands write, and run outside the sandbox (red team rt18). Only a ``codeward/``
    # package there still shadows this one: run the installed ``codeward`` command in projects.
    del _sys.path[0]
