"""``codeward scan [PATH...] [--staged] [--format text|json|sarif] [--rules FILE]``.

Exit 0 when nothing is found, 1 when a secret is found (or a file could not be read: the scan is
then not complete, so it cannot be called clean), 2 on a usage or configuration error.

Ignored files are scanned too: ignore rules keep files from the model, and that is exactly where
secrets live. ``.git/`` is skipped, as are binary files (a NUL byte in the first 8 KiB) and files
over the size cap, with a note on stderr for the latter. Path rules (``*.p12``) still apply to
binary files. With ``--staged`` the blobs in the git index are scanned, which is what a pre-commit
hook needs. The secret values never appear in any output format.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from codeward.errors import EXIT_FAILED, EXIT_OK, UsageError

MAX_FILE_BYTES = 8 << 20
BINARY_SNIFF = 8192
PARALLEL_MIN_BYTES = 4 << 20
"""Below this much text a second process costs more than it saves (fork plus result transfer)."""
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Result:
    """One finding as reported: where, which rule, never the value."""

    path: str
    line: int
    column: int
    rule: str
    description: str
    fingerprint: str
    end_line: int = 0
    end_column: int = 0
    line_hash: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "description": self.description,
            "fingerprint": self.fingerprint,
        }


@dataclass
class Stats:
    files: int = 0
    bytes: int = 0
    skipped_large: int = 0
    skipped_binary: int = 0
    unreadable: int = 0


# --------------------------------------------------------------------------------------------
# scanning (runs in the parent or in forked workers)

_SCANNER: Any = None


def _scan_blob(path: str, data: bytes) -> list[Result]:
    from codeward.privacy.sarif import line_hash

    text = data.decode("utf-8", "replace")
    out = []
    for f in _SCANNER.scan(text, path=path):
        end_line = f.line + text.count("\n", f.start, f.end)
        end_col = f.end - (text.rfind("\n", 0, f.end) + 1) + 1
        h = line_hash(text, f.start, f.end, f.rule_id)
        out.append(Result(path, f.line, f.column, f.rule_id, f.description, f.fingerprint, end_line, end_col, h))
    return out


def _scan_files(paths: Sequence[str]) -> tuple[list[Result], list[str], int, int]:
    """Scan files under the size cap: results, read errors, how many were binary, text bytes read.

    A binary file (NUL in its first 8 KiB) is checked by path rules only.
    """
    out: list[Result] = []
    errors: list[str] = []
    binary = nbytes = 0
    for p in paths:
        try:
            with open(p, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            errors.append(f"{p}: {e.strerror or e}")
            continue
        if b"\0" in data[:BINARY_SNIFF]:
            binary += 1
            out.extend(_path_only(p))
            continue
        nbytes += len(data)
        out.extend(_scan_blob(p, data))
    return out, errors, binary, nbytes


def _path_only(path: str) -> list[Result]:
    return [
        Result(path, f.line, f.column, f.rule_id, f.description, f.fingerprint) for f in _SCANNER.scan("", path=path)
    ]


# --------------------------------------------------------------------------------------------
# collecting what to scan


def _walk(arg: str) -> Iterator[str]:
    if os.path.isdir(arg):
        for dirpath, dirnames, filenames in os.walk(arg):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(filenames):
                yield os.path.normpath(os.path.join(dirpath, name))
    else:
        yield os.path.normpath(arg)


def _classify(paths: Iterator[str], stats: Stats, notes: list[str]) -> tuple[list[tuple[str, int]], list[str]]:
    """Split into (files to read, with sizes) and files over the cap (checked by path rules only)."""
    small: list[tuple[str, int]] = []
    large: list[str] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError as e:
            if os.path.islink(p):
                continue  # a dangling symlink holds no data
            stats.unreadable += 1
            notes.append(f"cannot read {p}: {e.strerror or e}")
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if st.st_size > MAX_FILE_BYTES:
            stats.skipped_large += 1
            notes.append(f"skipped {p}: {st.st_size / 1e6:.1f} MB is over the {MAX_FILE_BYTES >> 20} MiB scan cap")
            large.append(p)
            continue
        small.append((p, st.st_size))
    return small, large


def _chunks(files: list[tuple[str, int]]) -> list[list[str]]:
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for p, n in files:
        cur.append(p)
        size += n
        if size >= CHUNK_BYTES:
            out.append(cur)
            cur, size = [], 0
    if cur:
        out.append(cur)
    return out


def _run_parallel(files: list[tuple[str, int]], progress: _Progress) -> tuple[list[Result], list[str], int, int]:
    """Two forked workers share the compiled scanner copy-on-write; results come back in order."""
    import multiprocessing

    chunks = _chunks(files)
    results: list[Result] = []
    errors: list[str] = []
    binary = nbytes = 0
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes=min(os.cpu_count() or 1, 4)) as pool:
        for i, (res, errs, nbin, nb) in enumerate(pool.imap(_scan_files, chunks)):
            results.extend(res)
            errors.extend(errs)
            binary += nbin
            nbytes += nb
            progress.update(len(chunks[i]))
    return results, errors, binary, nbytes


class _Progress:
    """A one-line counter on stderr, only when stderr is a terminal and the scan takes a while."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty() and total > 200
        self.last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last > 0.2 or self.done == self.total:
            self.last = now
            sys.stderr.write(f"\rcodeward: scanned {self.done}/{self.total} files")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def scan_paths(args: Sequence[str], stats: Stats, notes: list[str]) -> list[Result]:
    files: list[str] = []
    for a in args:
        if not os.path.lexists(a):
            raise UsageError(f"scan: {a}: no such file or directory")
        files.extend(_walk(a))
    text, other = _classify(iter(files), stats, notes)
    progress = _Progress(len(text))
    results: list[Result] = []
    for p in other:
        results.extend(_path_only(p))
    total = sum(n for _, n in text)
    use_pool = total >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1 and sys.platform.startswith("linux")
    if use_pool:
        res, errs, binary, nbytes = _run_parallel(text, progress)
    else:
        res, errs, binary, nbytes = [], [], 0, 0
        for chunk in _chunks(text):
            r, e, b, nb = _scan_files(chunk)
            res.extend(r)
            errs.extend(e)
            binary += b
            nbytes += nb
            progress.update(len(chunk))
    progress.finish()
    stats.skipped_binary += binary
    stats.files = len(text) - binary - len(errs)
    stats.bytes = nbytes
    results.extend(res)
    for unreadable in errs:
        stats.unreadable += 1
        notes.append(f"cannot read {unreadable}")
    order = {p: i for i, p in enumerate(files)}
    results.sort(key=lambda r: (order.get(r.path, len(order)), r.line, r.column))
    return results


# --------------------------------------------------------------------------------------------
# --staged


def _git(args: list[str], cwd: str, *, input: bytes | None = None) -> bytes:
    from codeward.hostgit import git_command

    argv, env = git_command(args, cwd)  # hooks, fsmonitor, filters and helpers off
    try:
        p = subprocess.run(argv, cwd=cwd, input=input, capture_output=True, check=False, env=env)
    except FileNotFoundError:
        raise UsageError("scan --staged: git is not installed") from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"scan --staged: git {args[0]} failed: {msg[-1] if msg else p.returncode}")
    return p.stdout


def scan_staged(stats: Stats, notes: list[str]) -> list[Result]:
    try:
        top = _git(["rev-parse", "--show-toplevel"], os.getcwd()).decode().strip()
    except UsageError:
        raise UsageError("scan --staged: not inside a git repository") from None
    names = [n for n in _git(["diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR"], top).split(b"\0") if n]
    results: list[Result] = []
    batchable = [n for n in names if b"\n" not in n]
    blobs: dict[bytes, bytes] = {}
    if batchable:
        out = _git(["cat-file", "--batch"], top, input=b"".join(b":" + n + b"\n" for n in batchable))
        pos = 0
        for n in batchable:
            nl = out.index(b"\n", pos)
            header = out[pos:nl].split()
            pos = nl + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                blobs[n] = out[pos : pos + size]
                pos += size + 1
    for n in names:
        if n not in blobs:
            blobs[n] = _git(["show", ":" + n.decode("utf-8", "surrogateescape")], top)
    for n in names:
        path = os.path.relpath(os.path.join(top, n.decode("utf-8", "surrogateescape")))
        data = blobs[n]
        if len(data) > MAX_FILE_BYTES:
            stats.skipped_large += 1
            notes.append(f"skipped {path}: {len(data) / 1e6:.1f} MB is over the {MAX_FILE_BYTES >> 20} MiB scan cap")
            results.extend(_path_only(path))
            continue
        if b"\0" in data[:BINARY_SNIFF]:
            stats.skipped_binary += 1
            results.extend(_path_only(path))
            continue
        stats.files += 1
        stats.bytes += len(data)
        results.extend(_scan_blob(path, data))
    return results


# --------------------------------------------------------------------------------------------
# output


def render_text(results: list[Result], stats: Stats) -> str:
    lines = [f"{r.path}:{r.line}:{r.column}: {r.rule} {r.description}" for r in results]
    files = len({r.path for r in results})
    scanned = f"{stats.files} file{'s' if stats.files != 1 else ''}, {stats.bytes / 1e6:.1f} MB scanned"
    if stats.skipped_binary:
        scanned += (
            f"; {stats.skipped_binary} binary file{'s' if stats.skipped_binary != 1 else ''} (file-name rules only)"
        )
    if stats.skipped_large:
        scanned += f"; {stats.skipped_large} over the size cap skipped"
    if results:
        lines.append(
            f"{len(results)} secret{'s' if len(results) != 1 else ''} found in {files} "
            f"file{'s' if files != 1 else ''} ({scanned})"
        )
    else:
        lines.append(f"no secrets found ({scanned})")
    return "\n".join(lines) + "\n"


def render_sarif(results: list[Result]) -> dict[str, Any]:
    from codeward import __version__
    from codeward.privacy.sarif import render

    return render(results, __version__, Path.cwd())


@click.command("scan", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--staged", is_flag=True, help="Scan the files staged in the git index (for a pre-commit hook).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="Output format; none of them shows a secret value.",
)
@click.option("--rules", "rule_files", multiple=True, metavar="FILE", help="Extra gitleaks-format rules file.")
@click.pass_context
def command(ctx: click.Context, paths: tuple[str, ...], staged: bool, fmt: str, rule_files: tuple[str, ...]) -> int:
    """Scan files for secrets; exit 1 when any is found. Ignored files are scanned too."""
    global _SCANNER
    from codeward.cli.options import project_for

    if staged and paths:
        raise UsageError("scan: give either PATHs or --staged, not both")
    project = project_for(ctx, load=False, workspace=False)  # the scanner's rules only: no walk for ignore rules
    cwd = Path.cwd()
    extra = [p if p.is_absolute() else cwd / p for p in (Path(r).expanduser() for r in rule_files)]
    _SCANNER = project.make_scanner(extra_rules=extra)
    stats = Stats()
    notes: list[str] = []
    results = scan_staged(stats, notes) if staged else scan_paths(paths or (".",), stats, notes)
    for n in notes:
        click.echo(f"codeward: {n}", err=True)
    if fmt == "json":
        sys.stdout.write(json.dumps([r.as_json() for r in results], indent=2) + "\n")
    elif fmt == "sarif":
        sys.stdout.write(json.dumps(render_sarif(results), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(results, stats))
    sys.stdout.flush()
    if results or stats.unreadable:
        return EXIT_FAILED
    return EXIT_OK
