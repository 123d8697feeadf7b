"""Collect the facts ``doctor`` judges: config, workspace files, the git index, keys, sandbox, logs.

This is the I/O side of the doctor; everything it finds goes into a :class:`DoctorContext`. Each
probe catches its own failures and records them as a fact (``tracked_error``, ``sandbox_error``,
...), so one broken probe turns into one failing check instead of a crash.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pathspec

from codeward.config.model import Config
from codeward.doctor.model import CredentialFile, DoctorContext, PathPerm, SandboxTier, TrackedSecret
from codeward.errors import CodewardError
from codeward.workspace import IGNORE_FILES

if TYPE_CHECKING:
    from codeward.config.load import ConfigOverrides
    from codeward.project import Project

if TYPE_CHECKING:
    from codeward.config.load import ConfigOverrides

WALK_LIMIT = 50_000
SKIP_WALK = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache", ".ruff_cache"})
MAX_BLOB = 1 << 20
BATCH_BYTES = 32 << 20
EXAMPLE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".defaults")
KIND_SECTIONS = ("credentials", "cloud", "databases")


def gather(
    cwd: Path,
    overrides: ConfigOverrides | None = None,
    *,
    env: Mapping[str, str] | None = None,
    history_budget_s: float | None = 60.0,
) -> DoctorContext:
    """The facts for ``cwd``, from the one :class:`Project` a run there would use."""
    from codeward.project import open_default_project, open_project

    env = dict(os.environ if env is None else env)
    config_error = None
    try:
        project = open_project(cwd, overrides, load=False)
    except CodewardError as e:
        config_error = e.message
        project = open_default_project(cwd, overrides)
    facts: dict[str, object] = {}
    project, policy_facts = _policy(project)
    facts.update(policy_facts)
    facts.update(_ignore(project))
    facts.update(_tracked(project))
    facts.update(_history(project, history_budget_s))
    facts.update(_keys(project.config, env))
    facts.update(_sandbox())
    from codeward.audit.store import logs_dir

    return DoctorContext(
        config=project.config,
        config_error=config_error,
        root=project.workspace.root,
        home=project.home,
        env=env,
        logs=_perm(logs_dir(project.config, project.home), walk=True),
        home_perm=_perm(project.home, walk=False),
        **facts,  # type: ignore[arg-type]
    )


# -- policy ----------------------------------------------------------------------------------


def _policy(project: Project) -> tuple[Project, dict[str, object]]:
    """The project's policy; when an AGENTS.md cannot be used, the config's lists alone (and the error)."""
    from codeward.policy import Policy

    try:
        return project, {"disallow": tuple(project.policy.disallow_commands)}
    except CodewardError as e:
        return project.with_policy(Policy.from_config(project.config.policy)), {"policy_error": e.message}


# -- ignore coverage -----------------------------------------------------------------------------


def _kind_specs() -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    from codeward.init_templates import ignore_sections
    from codeward.privacy.ignore import BUILTIN_PATTERNS

    sections = ignore_sections()
    out = [("credentials", pathspec.GitIgnoreSpec.from_lines([*BUILTIN_PATTERNS, *sections.get("credentials", ())]))]
    for kind in KIND_SECTIONS[1:]:
        out.append((kind, pathspec.GitIgnoreSpec.from_lines(sections.get(kind, ()))))
    return out


def _walk(root: Path) -> Iterator[tuple[str, bool]]:
    """(workspace-relative path, is_dir) for entries under ``root``, skipping VCS and tool dirs."""
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        rel_dir = d.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(n for n in dirnames if n not in SKIP_WALK)
        for name in list(dirnames):
            yield (f"{rel_dir}/{name}" if rel_dir else name), True
        for name in sorted(filenames):
            yield (f"{rel_dir}/{name}" if rel_dir else name), False


def _ignore(project: Project) -> dict[str, object]:
    root = project.workspace.root
    matcher = project.ignore
    specs = _kind_specs()
    found: list[CredentialFile] = []
    ignore_files: list[str] = []
    skipped_dirs: list[str] = []
    n = 0
    limit_hit = False
    for rel, is_dir in _walk(root):
        n += 1
        if n > WALK_LIMIT:
            limit_hit = True
            break
        if any(rel.startswith(s + "/") for s in skipped_dirs):
            continue
        if not is_dir and PurePosixPath(rel).name in IGNORE_FILES:
            ignore_files.append(rel)
        probe = rel + "/" if is_dir else rel
        kind = next((k for k, spec in specs if spec.match_file(probe)), None)
        rule = matcher.match(rel, is_dir=is_dir)
        if kind is not None:
            found.append(CredentialFile(probe, kind, rule.describe() if rule else None))
        if is_dir and (kind is not None or rule is not None):
            skipped_dirs.append(rel)  # reported (or hidden) as a whole
    ignore_files.sort(key=lambda p: (p.count("/"), p))
    return {"ignore_files": tuple(ignore_files), "credential_files": tuple(found), "files_walked_limit_hit": limit_hit}


# -- the git index -------------------------------------------------------------------------------


def _git(root: Path, *args: str, data: bytes | None = None) -> bytes:
    from codeward.hostgit import git_command

    argv, env = git_command(args, root)  # hooks, fsmonitor, filters and helpers off
    proc = subprocess.run(argv, cwd=root, input=data, capture_output=True, timeout=120, env=env)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CodewardError(f"git {args[0]}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return proc.stdout


HISTORY_BUDGET_S = 60.0
"""How long doctor scans the git history before it reports it unfinished (``--full-history``: no limit)."""


def _history(project: Project, budget_s: float | None = HISTORY_BUDGET_S) -> dict[str, object]:
    """Paths ever committed (every ref) that the ignore rules hide, and the secrets any blob in the
    object store holds: their content is readable from ``.git`` by any command, whatever the working
    tree holds now."""
    import sys

    from codeward.privacy.history import HistoryError
    from codeward.privacy.history_report import history_findings

    root = project.workspace.root
    if not (root / ".git").exists():
        return {}
    try:
        out = _git(root, "log", "--all", "--format=", "--name-only", "-z")
        last = [0.0]

        def progress(done: int, total: int) -> None:  # a long scan shows it is moving (stderr)
            now = time.monotonic()
            if total >= 2000 and now - last[0] >= 5:
                last[0] = now
                print(f"scanning git history for secrets: {done} of {total} blobs", file=sys.stderr, flush=True)

        report = history_findings(
            root,
            project.make_scanner(redact_pii=False),
            cache_dir=project.home / "cache",
            budget_s=budget_s,
            on_progress=progress,
        )
    except FileNotFoundError:
        return {"history_error": "git is not installed"}
    except HistoryError as e:
        return {"history_error": str(e)}
    except (CodewardError, OSError, subprocess.SubprocessError) as e:
        return {"history_error": getattr(e, "message", None) or str(e)}
    paths = {p.decode("utf-8", "surrogateescape").strip("\n") for p in out.split(b"\0")}
    hidden = sorted(p for p in paths if p and project.ignore.match(p, is_dir=False) is not None)
    return {"history_hidden": tuple(hidden), "history_secrets": report}


def index_entries(root: Path) -> list[tuple[str, str]]:
    """(blob id, path) of every regular file in the git index."""
    out = []
    for rec in _git(root, "ls-files", "-z", "-s").split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, sha, _stage = meta.split(b" ")
        if mode in (b"100644", b"100755"):
            out.append((sha.decode(), path.decode("utf-8", "surrogateescape")))
    return out


def read_blobs(root: Path, shas: list[str]) -> Iterator[tuple[str, bytes | None]]:
    """(id, content) per blob; content None when the blob is larger than MAX_BLOB."""
    sizes: dict[str, int] = {}
    if not shas:
        return
    check = _git(root, "cat-file", "--batch-check", data="\n".join(shas).encode() + b"\n")
    for line in check.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            sizes[parts[0]] = int(parts[2])
    small = [s for s in shas if sizes.get(s, MAX_BLOB + 1) <= MAX_BLOB]
    for s in shas:
        if sizes.get(s, MAX_BLOB + 1) > MAX_BLOB:
            yield s, None
    batch: list[str] = []
    total = 0
    for want in [*small, None]:
        if want is not None:
            batch.append(want)
            total += sizes[want]
        if batch and (want is None or total >= BATCH_BYTES):
            raw = _git(root, "cat-file", "--batch", data="\n".join(batch).encode() + b"\n")
            pos = 0
            for sha in batch:
                nl = raw.index(b"\n", pos)
                size = int(raw[pos:nl].split()[2])
                yield sha, raw[nl + 1 : nl + 1 + size]
                pos = nl + 1 + size + 1
            batch, total = [], 0


def _tracked(project: Project) -> dict[str, object]:
    from codeward.privacy.ignore import BUILTIN_PATTERNS

    root = project.workspace.root
    if not (root / ".git").exists():
        return {"in_git": False}
    try:
        entries = index_entries(root)
        scanner = project.make_scanner(redact_pii=False)
        names = pathspec.GitIgnoreSpec.from_lines(BUILTIN_PATTERNS)
        by_sha: dict[str, list[str]] = {}
        for sha, path in entries:
            by_sha.setdefault(sha, []).append(path)
        reasons: dict[str, list[str]] = {}
        for _sha, path in entries:
            if names.match_file(path) and not path.endswith(EXAMPLE_SUFFIXES):
                reasons.setdefault(path, []).append("a credential file by name")
        scanned = skipped = 0
        for sha, data in read_blobs(root, list(by_sha)):
            paths = by_sha[sha]
            if data is None or b"\0" in data[:8192]:
                skipped += len(paths)
                continue
            scanned += len(paths)
            findings = scanner.scan(data.decode("utf-8", "replace"), path=paths[0])
            if findings:
                desc = ", ".join(sorted({f"{f.rule_id} on line {f.line}" for f in findings})[:3])
                for p in paths:
                    reasons.setdefault(p, []).append(desc)
    except FileNotFoundError:
        return {"in_git": True, "tracked_error": "git is not installed"}
    except (CodewardError, OSError, subprocess.SubprocessError, ValueError) as e:
        return {"in_git": True, "tracked_error": getattr(e, "message", None) or str(e)}
    tracked = tuple(TrackedSecret(p, tuple(r)) for p, r in sorted(reasons.items()))
    return {"in_git": True, "tracked": tracked, "tracked_scanned": scanned, "tracked_skipped": skipped}


# -- keys, sandbox, permissions --------------------------------------------------------------------


def _keys(config: Config, env: Mapping[str, str]) -> dict[str, object]:
    from codeward.auth import authfile, keychain
    from codeward.auth.login import key_status

    fs = authfile.inspect()
    return {
        "auth_file": fs,
        "keychain": keychain.backend(),
        "key": key_status(config.provider_config, env=env, file_state=fs),
    }


def _sandbox() -> dict[str, object]:
    try:
        from codeward.sandbox import sandbox_status

        statuses = sandbox_status()
    except ImportError:
        return {"sandbox_error": "the sandbox module is not installed"}
    except CodewardError as e:
        return {"sandbox_error": e.message}
    tiers = tuple(
        SandboxTier(
            str(getattr(t, "tier", getattr(t, "name", "?"))),
            bool(t.available),
            str(getattr(t, "reason", "")),
            tuple(getattr(t, "gaps", ()) or ()),
            "" if t.available else str(getattr(t, "detail", "")),
        )
        for t in statuses
    )
    return {"sandbox": tiers}


def _perm(path: Path, *, walk: bool) -> PathPerm:
    try:
        st = path.stat()
    except FileNotFoundError:
        return PathPerm(path, False)
    except OSError:
        return PathPerm(path, True)
    loose: list[str] = []
    if walk and stat.S_ISDIR(st.st_mode):
        count = 0
        for dirpath, dirnames, filenames in os.walk(path):
            for name in [*dirnames, *filenames]:
                count += 1
                p = Path(dirpath) / name
                try:
                    if stat.S_IMODE(p.lstat().st_mode) & 0o077:
                        loose.append(str(p.relative_to(path)))
                except OSError:
                    continue
            if count > WALK_LIMIT:
                break
    return PathPerm(path, True, stat.S_IMODE(st.st_mode), tuple(loose))
