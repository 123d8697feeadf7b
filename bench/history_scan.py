#!/usr/bin/env python3
"""What scanning a repository's git history for secrets costs (issue 11, git history).

    python bench/history_scan.py [--commits 20000] [--repo PATH] [--skip-synthetic]

Builds (once, with ``git fast-import``) a synthetic repository under /tmp/cw-bench-history: COMMITS
commits, each changing one or two of 2 000 source files of ~2 KiB, a ``.env`` committed and later
removed, and three secrets planted in old versions of ordinary files. Then measures, on it and on
``--repo`` (default: this checkout; a worktree gets no object-store view, so measure a clone:
``git clone -q --no-local . /tmp/cw-self``):

1. ``history_findings`` (what ``codeward doctor`` runs): cold (no cache) and warm (clean-blob cache);
2. ``HistorySecrets.refresh`` as a session pays it: first call cold and warm, then a call with the
   object store unchanged (what every later request pays);
3. ``hidden_history_paths`` (the sandbox spec's list, per command): first call and cached; the
   object-store view bubblewrap binds over ``.git/objects``: built cold, rebuilt in a new session
   with a warm cache, and what a later command pays;
4. ``codeward doctor --json`` as a whole process (warm cache).
Prints a Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYNTH = Path("/tmp/cw-bench-history")
FILES = 2000
SECRETS = [
    "ghp_Bn4Kx8Qm2Wz6Lp9Rt1Yc5Vd3Hf7Js0Ga2Eu6",
    "AKIAQX7TRB2MZL4PWN6Y",
    "xoxb-2048123456-2048765432-Qx7Lm2Wz9Rt4Yc8Vd3Hf1Js6",
]


def build(commits: int) -> Path:
    marker = SYNTH / f".built-{commits}"
    if marker.exists():
        return SYNTH
    shutil.rmtree(SYNTH, ignore_errors=True)
    SYNTH.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=SYNTH, check=True)
    rng = random.Random(11)
    words = [f"w{i}" for i in range(500)]
    out: list[bytes] = []

    def blob(text: str) -> None:
        data = text.encode()
        out.append(b"data %d\n" % len(data) + data + b"\n")

    t0 = 1_700_000_000
    for c in range(commits):
        out.append(b"commit refs/heads/main\n")
        out.append(b"committer Bench <b@example.com> %d +0000\n" % (t0 + c))
        blob(f"change {c}")  # the message; later commits continue the branch on their own
        for _ in range(rng.choice((1, 2))):
            n = rng.randrange(FILES)
            lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(40)]
            if c in (commits // 4, commits // 2, 3 * commits // 4):
                lines[5] = f'TOKEN = "{SECRETS[[commits // 4, commits // 2, 3 * commits // 4].index(c)]}"'
            out.append(b"M 100644 inline src/mod%04d.py\n" % n)
            blob("\n".join(lines) + f"\n# rev {c}\n")
        if c == commits // 3:
            out.append(b"M 100644 inline .env\n")
            blob("DB_PASSWORD=riverbankmoon\nAPI_KEY=Qx7Lm2Wz9Rt4Yc8Vd3Hf1Js6Bn4Kx8Qm\n")
        if c == commits // 3 + 1:
            out.append(b"D .env\n")
        out.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=SYNTH, input=b"".join(out), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=SYNTH, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=SYNTH, check=True)
    marker.touch()
    return SYNTH


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def measure(repo: Path) -> list[tuple[str, str]]:
    from codeward.privacy.history import hidden_history_paths, list_blobs
    from codeward.privacy.history_report import history_findings
    from codeward.privacy.history_secrets import HistorySecrets
    from codeward.project import open_project

    project = open_project(repo, None)
    scanner = project.make_scanner(redact_pii=False)
    blobs = list_blobs(repo)
    commits = subprocess.run(["git", "rev-list", "--all", "--count"], cwd=repo, capture_output=True, text=True)
    rows = [
        (
            "commits / blobs / blob bytes",
            f"{commits.stdout.strip()} / {len(blobs)} / {sum(blobs.values()) / 1e6:.1f} MB",
        )
    ]
    cache = Path(tempfile.mkdtemp(prefix="cw-bench-hcache-"))
    try:
        t, r = timed(lambda: history_findings(repo, scanner, cache_dir=cache))
        rows.append(
            (
                "doctor scan, cold",
                f"{t:.2f} s ({r.blobs_scanned} blobs scanned; {r.secrets} secrets in {r.commits} commits)",
            )
        )
        t, r = timed(lambda: history_findings(repo, scanner, cache_dir=cache))
        rows.append(("doctor scan, warm (clean-blob cache)", f"{t:.2f} s ({r.blobs_scanned} blobs scanned)"))
        session_scanner = project.scanner
        cache2 = Path(tempfile.mkdtemp(prefix="cw-bench-hcache-"))
        h = HistorySecrets(repo, session_scanner, cache_dir=cache2)
        t, v = timed(h.refresh)
        rows.append(("session, first refresh, cold", f"{t:.2f} s ({h.blobs_scanned} blobs, {len(v)} values)"))
        t, _ = timed(h.refresh)
        rows.append(("session, refresh with the store unchanged", f"{t * 1000:.2f} ms"))
        h2 = HistorySecrets(repo, session_scanner, cache_dir=cache2)
        t, v = timed(h2.refresh)
        rows.append(("session, first refresh, warm", f"{t:.2f} s ({h2.blobs_scanned} blobs, {len(v)} values)"))
        shutil.rmtree(cache2, ignore_errors=True)
        from codeward.privacy import history_view

        cache3 = Path(tempfile.mkdtemp(prefix="cw-bench-hcache-"))
        t, view = timed(lambda: history_view.object_view(repo, session_scanner, project.ignore, cache3))
        n = view.excluded if view is not None else 0
        rows.append(("object-store view (bwrap), first command, cold", f"{t:.2f} s ({n} blobs replaced)"))
        history_view._views.clear()
        t, view = timed(lambda: history_view.object_view(repo, session_scanner, project.ignore, cache3))
        rows.append(("object-store view, new session, warm cache (pack rebuilt)", f"{t:.2f} s"))
        t, view = timed(lambda: history_view.object_view(repo, session_scanner, project.ignore, cache3))
        rows.append(("object-store view, later commands (store unchanged)", f"{t * 1000:.2f} ms"))
        if view is not None:
            size = sum(f.stat().st_size for f in view.objects.rglob("*") if f.is_file())
            rows.append(("object-store view, disk", f"{size / 1e6:.1f} MB"))
        shutil.rmtree(cache3, ignore_errors=True)
        t, paths = timed(lambda: hidden_history_paths(repo, project.ignore))
        rows.append(("hidden_history_paths, first", f"{t:.2f} s ({len(paths)} hidden paths)"))
        t, _ = timed(lambda: hidden_history_paths(repo, project.ignore))
        rows.append(("hidden_history_paths, cached (per command)", f"{t * 1000:.2f} ms"))
        env = {**os.environ, "CODEWARD_HOME": str(cache.parent / (cache.name + "-home"))}
        Path(env["CODEWARD_HOME"]).mkdir()
        shutil.copytree(cache, Path(env["CODEWARD_HOME"]) / "cache")
        t, _ = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "codeward", "doctor", "--json"], cwd=repo, env=env, capture_output=True
            )
        )
        rows.append(("`codeward doctor --json` whole process (warm cache)", f"{t:.2f} s"))
        shutil.rmtree(env["CODEWARD_HOME"], ignore_errors=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def measure_staged(repo: Path, max_wait: float) -> None:
    """The staged path a session takes on a large history: figures printed as they come (flushed)."""
    from codeward.privacy.history_report import history_findings
    from codeward.privacy.history_secrets import HistorySecrets
    from codeward.project import open_project
    from codeward.sandbox import select_sandbox

    def row(what: str, fig: str) -> None:
        print(f"| {what} | {fig} |", flush=True)

    project = open_project(repo, None)
    home_cache = project.home / "cache"
    shutil.rmtree(home_cache, ignore_errors=True)  # cold: a private CODEWARD_HOME is expected
    print(f"### staged, {repo}\n\n| what | figure |\n|---|---|", flush=True)
    t0 = time.perf_counter()
    hs = HistorySecrets(repo, project.scanner, background=True, cache_dir=home_cache)
    hs.ready.wait()
    p = hs.progress()
    row(
        "session start -> messages and HEAD+index scanned (ready)",
        f"{time.perf_counter() - t0:.1f} s ({p.done} of {p.total} judged)",
    )
    sb = select_sandbox("bwrap")
    spec = project.sandbox_spec()
    t, r = timed(lambda: sb.run(["sh", "-c", "git log --oneline | wc -l; git show HEAD:README.md | wc -l"], spec))
    row(
        "first command (staged view built + run)",
        f"{t:.1f} s; {time.perf_counter() - t0:.1f} s after start; output {r.output.split()!r}",
    )
    t, r = timed(lambda: sb.run(["git", "log", "-1", "--format=%h"], spec))
    row("next command, staged view reused", f"{t * 1000:.0f} ms")
    last = time.perf_counter()
    while not hs.complete.wait(5):
        if time.perf_counter() - t0 > max_wait:
            row("full scan", f"unfinished after {max_wait:.0f} s ({hs.progress().line()})")
            hs.stop()
            return
        if time.perf_counter() - last > 60:
            print(f"  ... {hs.progress().line()} at {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            last = time.perf_counter()
    row("session start -> full scan complete", f"{time.perf_counter() - t0:.0f} s ({hs.blobs_scanned} blobs scanned)")
    t, r = timed(lambda: sb.run(["git", "log", "-1", "--format=%h"], spec))
    row("first command after the scan (full view built + run)", f"{t:.1f} s")
    cold = Path(tempfile.mkdtemp(prefix="cw-bench-hcache-"))
    scanner = project.make_scanner(redact_pii=False)
    t, rep = timed(lambda: history_findings(repo, scanner, cache_dir=cold, budget_s=60))
    row(
        "doctor, cold, 60 s budget",
        f"{t:.0f} s: {'complete' if rep.complete else f'fails unfinished, {rep.blobs - rep.unscanned} of {rep.blobs}'}",
    )
    shutil.rmtree(cold, ignore_errors=True)
    t, rep = timed(lambda: history_findings(repo, scanner, cache_dir=home_cache, budget_s=60))
    row("doctor, warm (the session's cache)", f"{t:.1f} s: {'complete' if rep.complete else 'unfinished'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=20000)
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--staged", action="store_true", help="measure the staged session path on --repo only")
    ap.add_argument("--max-wait", type=float, default=1800.0)
    args = ap.parse_args()
    if args.staged:
        measure_staged(args.repo, args.max_wait)
        print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        return
    repos = [args.repo]
    if not args.skip_synthetic:
        t, synth = timed(lambda: build(args.commits))
        print(f"synthetic repository: {synth} (built in {t:.1f} s)\n")
        repos.append(synth)
    for repo in repos:
        print(f"### {repo}\n\n| what | figure |\n|---|---|")
        for what, fig in measure(repo):
            print(f"| {what} | {fig} |")
        print()
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
