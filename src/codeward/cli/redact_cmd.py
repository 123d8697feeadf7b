"""``codeward redact [FILE|-]``: print a text as the privacy gate would send it.

The redacted text goes to stdout, byte for byte except for the replaced secrets; a summary of what
was replaced goes to stderr, so ``codeward redact notes.md > safe.md`` leaves a clean file. The
placeholder key is random per run, as it is per session in the agent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codeward.errors import EXIT_FAILED, EXIT_OK, UsageError


def _read(file: str | None) -> tuple[str, str | None]:
    if file in (None, "-"):
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape"), None
    p = Path(file)
    if p.is_dir():
        raise UsageError(f"redact: {file} is a directory; give a file or - for standard input")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"redact: {file}: no such file") from None
    except OSError as e:
        raise UsageError(f"redact: {file}: {e.strerror or e}") from None
    return data.decode("utf-8", "surrogateescape"), file


def summary(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "codeward: nothing to redact"
    detail = ", ".join(f"{rule}: {n}" for rule, n in sorted(counts.items()))
    return f"codeward: redacted {total} value{'s' if total != 1 else ''} ({detail})"


@click.command("redact", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, metavar="[FILE|-]")
@click.pass_context
def command(ctx: click.Context, file: str | None) -> int:
    """Print FILE (or standard input) with secrets replaced by placeholders.

    FILE is judged by the project it lives in (its ignore rules, AGENTS.md ``disallow_directories``
    and scanner rules), exactly as the agent in that project would judge it: a file the agent may
    never read is refused, not printed.
    """
    from codeward.cli.options import RunOptions, project_for
    from codeward.privacy.redact import Redactor

    from_stdin = file in (None, "-")
    where = None if from_stdin else Path(file).absolute().parent  # type: ignore[arg-type]
    # standard input is judged by the scanner alone: no workspace to choose, no ignore rules to read
    project = project_for(
        ctx,
        RunOptions(cd=where if where is not None and where.is_dir() else None),
        load=not from_stdin,
        workspace=not from_stdin,
    )
    if not from_stdin:
        blocked = project.ignore.match_path(Path(file).resolve())  # type: ignore[arg-type]
        if blocked is not None:
            click.echo(f"codeward: {file} is hidden by the {blocked.describe()}: the gate never sends it", err=True)
            return EXIT_FAILED
    text, path = _read(file)
    result = Redactor(project.scanner).redact(text, path=path)
    sys.stdout.buffer.write(result.text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()
    click.echo(summary(result.counts), err=True)
    return EXIT_OK
