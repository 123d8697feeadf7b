"""The ``codeward`` command line.

:func:`main` is the console script. ``codeward --help`` is answered from :mod:`codeward.cli.catalog`
without importing click; everything else goes through the click application in
:mod:`codeward.cli.app`, whose subcommands load one module each, on first use.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args in (["--help"], ["-h"]):
        from codeward.cli.catalog import render_help

        sys.stdout.write(render_help())
        return 0
    if argv is None:  # the real process: its prompt and options are no business of other processes
        from codeward.cli.cmdline import hide_arguments

        hide_arguments()
    from codeward.cli.app import run

    return run(args)
