"""``codeward logs list | show ID | verify [ID|--all] | export`` (DESIGN §6).

``verify`` exits 1 when any log was changed, had a record removed or reordered, or lacks its seal;
0 when every log checked is intact. An id prefix is enough wherever an id is asked for, and
``show``/``verify`` also take the path of a log file (``exec --audit-log`` copies, exports).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from codeward.errors import EXIT_FAILED, EXIT_OK, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _logs_root() -> Path:
    from codeward.audit.store import logs_dir
    from codeward.cli.options import project_for

    project = project_for(None, load=False, workspace=False)
    return logs_dir(project.config, project.home)


@click.group("logs", context_settings=CONTEXT)
def command() -> None:
    """List, show, verify and export the tamper-evident audit log; set up its sealing keys."""


@command.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_cmd(as_json: bool) -> int:
    """Every session log: id, date, records, integrity status and how the session ended."""
    from codeward.audit.store import list_logs
    from codeward.audit.verify import verify_file

    root = _logs_root()
    rows: list[dict[str, Any]] = []
    for lf in list_logs(root):
        try:
            res = verify_file(lf.path, lf.session_id)
        except OSError as e:
            rows.append(
                {
                    "session": lf.session_id,
                    "date": lf.date,
                    "start": None,
                    "records": 0,
                    "status": f"unreadable ({e.strerror})",
                    "ended": None,
                    "path": str(lf.path),
                }
            )
            continue
        status = "ok" if res.ok else (res.problem.kind if res.problem else "?")
        rows.append(
            {
                "session": lf.session_id,
                "date": lf.date,
                "start": res.first_ts,
                "records": res.records,
                "status": status,
                "ended": res.end_status,
                "path": str(lf.path),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        click.echo(f"no audit logs under {root}")
        return EXIT_OK
    click.echo(f"{'SESSION':<38}{'DATE':<12}{'START':<10}{'RECORDS':>8}  {'STATUS':<11}ENDED")
    for r in rows:
        start = (r["start"] or "")[11:19]
        click.echo(
            f"{r['session']:<38}{r['date']:<12}{start:<10}{r['records']:>8}  {r['status']:<11}{r['ended'] or '-'}"
        )
    return EXIT_OK


@command.command("show", context_settings=CONTEXT)
@click.argument("ref", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the records as a JSON array.")
def show(ref: str, as_json: bool) -> int:
    """One session as a timeline: requests, decisions, commands, file changes (ID: id, prefix or file)."""
    from codeward.audit.store import find_log, read_records
    from codeward.audit.timeline import render
    from codeward.audit.verify import verify_file

    lf = find_log(_logs_root(), ref)
    records = list(read_records(lf.path))
    if as_json:
        click.echo(json.dumps([rec if rec is not None else {"unparsable_line": n} for n, _, rec in records], indent=2))
        return EXIT_OK
    res = verify_file(lf.path, lf.session_id)
    for line in render([(n, rec) for n, _, rec in records], res, lf.path):
        click.echo(line)
    return EXIT_OK


@command.command("setup-keys", context_settings=CONTEXT)
@click.option("--force", is_flag=True, help="Start a new key chain even though one exists.")
@click.option(
    "--key-from-env",
    "env_name",
    metavar="NAME",
    help="Use the verification key in environment variable NAME (a CI secret) instead of a new one; prints nothing secret.",
)
def setup_keys_cmd(force: bool, env_name: str | None) -> int:
    """Create the forward-secure sealing state and print the verification key (once: keep it elsewhere)."""
    import os

    from codeward.audit.genesis import write_genesis
    from codeward.audit.keys import SealState, format_verification_key, parse_verification_key, setup_keys, state_path
    from codeward.audit.records import utc_timestamp
    from codeward.home import codeward_home

    home = codeward_home()
    given = None
    if env_name is not None:
        value = os.environ.get(env_name)
        if not value:
            raise UsageError(f"--key-from-env {env_name}: the variable is not set or empty")
        given = parse_verification_key(value)
    root = _logs_root()
    adopted: list[int] = []

    def genesis(seed: bytes, state: SealState) -> None:
        try:
            adopted.append(write_genesis(root, seed, state, utc_timestamp()))
        except OSError as e:
            raise UsageError(
                f"{root}: cannot write the index's genesis entry ({e.strerror}); sealing not set up"
            ) from None

    seed, state = setup_keys(home, force=force, seed=given, on_create=genesis)
    click.echo(f"sealing state: {state_path(home)} (mode 0600; moves forward with every session)", err=True)
    click.echo(
        f"index: {adopted[0]} existing logs adopted (any other log without an index entry fails verify)", err=True
    )
    if given is None:
        click.echo("verification key (shown only now; keep it off this machine, e.g. in your password manager "
                   "or CI secret):", err=True)  # fmt: skip
        click.echo(format_verification_key(seed))
    click.echo(f"key id: {state.key_id}. Check logs with: codeward logs verify --all --verification-key KEY", err=True)
    return EXIT_OK


@command.command("verify", context_settings=CONTEXT)
@click.argument("ref", metavar="[ID]", required=False)
@click.option("--all", "all_", is_flag=True, help="Verify every session log and the index (the default without ID).")
@click.option(
    "--verification-key",
    "vkey",
    metavar="KEY",
    envvar="CODEWARD_VERIFICATION_KEY",
    help="The key setup-keys printed (or $CODEWARD_VERIFICATION_KEY): check every MAC.",
)
def verify(ref: str | None, all_: bool, vkey: str | None) -> int:
    """Check logs: OK per file, or the first bad record (line and why). Exit 1 on any problem."""
    from codeward.audit.keys import SealStateError, parse_verification_key, read_state
    from codeward.audit.verify import EpochKeys
    from codeward.audit.verify_all import Line, limits, read_index, verify_all
    from codeward.home import codeward_home

    if ref and all_:
        raise UsageError("give an ID or --all, not both")
    keys = EpochKeys(parse_verification_key(vkey)) if vkey else None
    root = _logs_root()
    state_problem: list[Line] = []
    try:
        state = read_state(codeward_home())
    except SealStateError as e:
        state, state_problem = None, [Line("fail", "sealing state", str(e))]
    if ref:
        lines, keyed = _verify_one(root, ref, keys)
    else:
        lines = verify_all(root, keys, state, check_state=not state_problem)
        keyed = state is not None or read_index(root, None).keyed
    lines += state_problem
    if not lines:
        click.echo(f"no audit logs under {root}")
        return EXIT_OK
    bad = 0
    for line in lines:
        tag = {"ok": "OK   ", "note": "NOTE ", "fail": "FAIL "}[line.status]
        bad += line.status == "fail"
        click.echo(f"{tag} {line.name}: {line.message}")
    sessions = [ln for ln in lines if ln.name not in ("index", "sealing state")]
    if len(sessions) > 1:
        intact = sum(1 for ln in sessions if ln.status != "fail")
        click.echo(f"{intact} of {len(sessions)} logs intact")
    click.echo(limits(keys, keyed), err=True)
    return EXIT_FAILED if bad else EXIT_OK


def _verify_one(root: Path, ref: str, keys: Any) -> tuple[list[Any], bool]:
    """One log (an id or a file such as an --audit-log copy), cross-checked with the index when it is listed."""
    from codeward.audit.store import find_log
    from codeward.audit.verify import verify_file
    from codeward.audit.verify_all import Line, read_index

    lf = find_log(root, ref)
    name = lf.session_id or str(lf.path)
    try:
        res = verify_file(lf.path, lf.session_id, keys)
    except OSError as e:
        return [Line("fail", name, f"cannot read {lf.path} ({e.strerror})")], False
    if res.problem is not None:
        return [Line("fail", name, f"{res.problem.message}  [{res.problem.kind}] {lf.path}")], res.epoch is not None
    how = (
        f"MACs checked, epoch {res.epoch}"
        if res.macs_checked
        else ("keyed, MACs not checked" if res.epoch is not None else "unkeyed")
    )
    lines = [Line("ok", name, f"{res.records} records, sealed, {how}")]
    view = read_index(root, keys)
    close = next((e for e in view.entries if e.get("type") == "close" and e.get("sid") == res.session_id), None)
    if view.problem:
        lines.append(Line("fail", "index", view.problem))
    elif close is None:
        lines.append(Line("note", name, f"session {res.session_id} has no closed entry in the index under {root}"))
    elif close.get("last") != res.last_hash or close.get("records") != res.records - 1:
        lines[0] = Line(
            "fail",
            name,
            f"is not the log the index recorded for session {res.session_id} "
            f"({close.get('records')} records): replaced or re-sealed",
        )
    else:
        lines.append(Line("ok", name, "matches the index entry of its session"))
    return lines, res.epoch is not None


@command.command("ship", context_settings=CONTEXT)
def ship_cmd() -> int:
    """Deliver records queued while the [audit] sink was down (or codeward was killed). Exit 1 if some still wait."""
    from codeward.audit.ship import deliver_backlog
    from codeward.audit.sinks import shown, transport_for
    from codeward.audit.store import logs_dir
    from codeward.config.load import load_config

    config = load_config(Path.cwd())
    if not config.audit.sink:
        raise UsageError('no [audit] sink is configured; set sink = "syslog+tcp://HOST:PORT" or an http(s) URL')
    transport = transport_for(config.audit.sink)
    try:
        sent, waiting = deliver_backlog(logs_dir(config), transport)
    except OSError as e:
        click.echo(
            f"the audit sink {shown(config.audit.sink)} is not reachable ({e.strerror or e}); records stay queued"
        )
        return EXIT_FAILED
    finally:
        transport.close()
    click.echo(
        f"delivered {sent} queued records to {shown(config.audit.sink)}"
        + (f"; {waiting} still wait" if waiting else "")
    )
    return EXIT_FAILED if waiting else EXIT_OK


@command.command("export", context_settings=CONTEXT)
@click.option("--since", metavar="DATE", help="Only records at or after DATE (2025-01-31 or 2025-01-31T14:00, UTC).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "ocsf"]),
    default="jsonl",
    show_default=True,
    help="jsonl: the exact record lines; ocsf: one OCSF 1.1 event per line (schema in the README).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE (mode 0600) instead of stdout.")
def export(since: str | None, fmt: str, output: str | None) -> int:
    """Every record of every session as JSON lines (for a SIEM), exactly as logged or as OCSF events."""
    from codeward import __version__
    from codeward.audit.ocsf import to_ocsf
    from codeward.audit.store import list_logs, parse_since, read_records
    from codeward.audit.timeline import summary

    cutoff = parse_since(since) if since else None
    chunks: list[bytes] = []
    for lf in list_logs(_logs_root()):
        if cutoff is not None and lf.path.stat().st_mtime < _epoch(cutoff):
            continue
        for _, line, rec in read_records(lf.path):
            if rec is None:
                continue
            if cutoff is not None and str(rec.get("ts", "")) < cutoff:
                continue
            if fmt == "ocsf":
                event = to_ocsf(rec, line, summary(rec), __version__)
                chunks.append(json.dumps(event, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n")
            else:
                chunks.append(line + b"\n")
    data = b"".join(chunks)
    if output:
        from codeward.fsutil import PinnedOutput

        PinnedOutput(Path(output), "--output").write_bytes(data, mode=0o600)
        click.echo(f"wrote {len(chunks)} records to {output}", err=True)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


def _epoch(cutoff: str) -> float:
    """A ``--since`` prefix as a POSIX time (for skipping files last written before it)."""
    from datetime import UTC, datetime

    text = cutoff if "T" in cutoff else cutoff + "T00:00:00.000Z"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
