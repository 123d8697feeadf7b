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


def _ignore_rule(file: Path):  # -> IgnoreRule | None
    """The ignore rule that keeps ``file`` from ever being sent, judged from its own workspace."""
    from codeward.config.home import codeward_home
    from codeward.privacy.ignore import load_ignore
    from codeward.workspace import Workspace

    p = file.absolute()
    if not p.parent.is_dir():
        return None
    ws = Workspace.discover(p.parent)
    return load_ignore(ws, codeward_home()).match_path(p.resolve())


def summary(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "codeward: nothing to redact"
    detail = ", ".join(f"{rule}: {n}" for rule, n in sorted(counts.items()))
    return f"codeward: redacted {total} value{'s' if total != 1 else ''} ({detail})"


@click.command("redact", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, metavar="[FILE|-]")
def command(file: str | None) -> int:
    """Print FILE (or standard input) with secrets replaced by placeholders."""
    from codeward.cli.options import group_options
    from codeward.config.load import load_config
    from codeward.privacy.redact import Redactor
    from codeward.privacy.scanner import load_scanner

    opts = group_options()
    cwd = opts.workdir()
    cfg = load_config(cwd, opts.overrides())
    rules = [Path(r).expanduser() for r in cfg.privacy.rules]
    scanner = load_scanner(
        rule_files=[r if r.is_absolute() else cwd / r for r in rules],
        redact_pii=cfg.privacy.redact_pii,
        allowlist=cfg.privacy.allowlist,
    )
    if file not in (None, "-"):
        blocked = _ignore_rule(Path(file))
        if blocked is not None:
            click.echo(f"codeward: {file} is hidden by the {blocked.describe()}: the gate never sends it", err=True)
            return EXIT_FAILED
    text, path = _read(file)
    result = Redactor(scanner).redact(text, path=path)
    sys.stdout.buffer.write(result.text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()
    click.echo(summary(result.counts), err=True)
    return EXIT_OK
