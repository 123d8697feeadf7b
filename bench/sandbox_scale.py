"""How the sandbox's cost per command grows with the repository (issue 10's scale targets).

Usage: ``python bench/sandbox_scale.py [--sizes 400,50000,200000] [--ignored 5000] [--dirs 2000] [--runs 5] [--watch]``

For each size a synthetic git-free repository is built in a temp dir: ``N`` small files spread
over directories of 100 files (``src/dNNNN/fNN.py``), plus ``--ignored`` files matching the
built-in ``*.key`` rule scattered over ``--dirs`` directories (two or three per directory, next to
ordinary files, so no directory collapses into one mask), an AGENTS.md and a ``.codexignore``. The
400-file repository gets no scattered ignored files (a small real project).

Rows per size:

* ``CLI cold``: the first ``codeward sandbox -- true`` with no saved index (one run, one-shot);
* ``CLI one-shot``: the whole CLI process with no warm server (``CI=true``), the saved index warm
  (median wall time);
* ``CLI warm``: the same command served by the warm server the first run outside CI leaves behind
  in a workspace of 20 000 entries or more (:mod:`codeward.cli.sandbox_warm`; "-": none is started
  for a smaller one), timed once it listens;
* ``spec``: ``Project.sandbox_spec()`` as the agent calls it before each command, in a process
  that already holds the index, nothing changed since the previous command;
* ``run - bare``: ``Sandbox.run(["true"], spec)`` with the spec built, minus a bare spawn of ``true``;
* ``in-agent``: spec + run - bare, what one command of a session costs over a bare spawn, with the
  view holder (one namespace kept while the view is the same, :mod:`codeward.sandbox.view_holder`)
  and without it (``no holder``: a new bubblewrap namespace with every mount per command);
  ``new holders`` is how many holders those runs started (0: each reused the one the ``run - bare``
  runs left);
* ``mounts``: how many mounts the bwrap view needs (hidden files + dirs + read-only + anchors);
* ``shell tool``: one whole ``shell`` tool call running ``true`` in an offline session (full-auto),
  minus a bare spawn: the policy decision, the secret learner brought up to date (its inotify
  watch from the session's third refresh, :mod:`codeward.privacy.tree_watch`), the redacted view,
  the spec, the sandbox and the census; what a model's command really pays, nothing changed since
  the previous one (``spec``/``in-agent`` leave the learner and the redacted view out).

``--watch`` adds, per size, the new-names watch's own cost: its first ``prepare`` (a session's
first command adds a watch on every directory), then per command with nothing new and with one
new directory (:mod:`codeward.sandbox.new_names`).

``--mount-cost 20,100,250,1000`` instead times one command with that many scattered hidden files
mounted by bubblewrap and by the launcher (root): where the launcher starts to pay.

``--secret`` puts one ordinary file holding a credential in each repository (the CLI's secret scan
then sweeps for its value: what a real repository with one ``.env``-like file pays).

``--breakdown`` adds, per size, where one in-agent command's time goes (each phase wrapped with a
timer: the index refreshes, the spec, the layout, bwrap with its mounts, the census after).

Targets (issue 10): every command runs; CLI at 200k within 1.5x of 400; in-agent overhead at 50k
<= 15 ms median.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_repo(root: Path, files: int, ignored: int, dirs: int, secret: bool = False) -> Path:
    repo = root / f"repo{files}"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)  # a real repository: the workspace's root
    (repo / "AGENTS.md").write_text("# rules\n")
    (repo / ".codexignore").write_text("config/production.yml\n")
    per_dir = 100
    for i in range(files):
        d = repo / "src" / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        (d / f"f{i % per_dir:02d}.py").write_text("x = 1\n")
    if secret:  # one ordinary file with a credential: the secret scan's sweep then has a value to look for
        (repo / "src" / "settings.py").write_text(
            'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"\n'
        )
    ndirs = max(1, files // per_dir)
    for j in range(ignored if files > 400 else 0):
        d = repo / "src" / f"d{(j % dirs) * max(1, ndirs // dirs) % ndirs:04d}"
        (d / f"secret{j}.key").write_text("k\n")
    return repo


def median_ms(fn, runs: int) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    try:
        fn()
    except Exception as e:
        return float("nan"), f"fails: {str(e).splitlines()[0][:120]}"
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out), ""


def breakdown(project, sb, runs: int) -> str:  # type: ignore[no-untyped-def]
    """Median ms per phase of one in-agent command (spec + run), nothing changed since the last one."""
    import collections
    import functools

    import codeward.dirindex as di
    import codeward.sandbox.bwrap as bw
    import codeward.sandbox.bwrap_argv as bwa
    import codeward.sandbox.protect as pr
    import codeward.sandbox.runner as rn
    import codeward.sandbox.view_holder as vh

    acc: dict[str, list[float]] = collections.defaultdict(list)
    undo = []

    def wrap(owner, name: str, label: str) -> None:  # type: ignore[no-untyped-def]
        f = getattr(owner, name)

        @functools.wraps(f)
        def timed(*a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[label].append((time.perf_counter() - t) * 1000)

        setattr(owner, name, timed)
        undo.append((owner, name, f))

    wrap(di.DirIndex, "refresh", "index refreshes (stat walk)")
    wrap(bw, "validate_spec", "validate_spec")
    wrap(bw, "build_layout", "build_layout")
    import codeward.sandbox.new_names as nn

    wrap(nn.NewNames, "prepare", "new-names watch (prepare)")
    wrap(rn, "run_process", "bwrap + mounts + true")
    wrap(bw, "git_binds", "git views")
    wrap(bwa, "git_binds", "git views")
    wrap(vh, "holder_key", "holder key")
    wrap(vh.ViewHolder, "run", "holder: IPC + forks + true")
    wrap(vh, "start", "holder started")
    wrap(pr, "remove_created", "census after (incl. its refresh)")
    acc.clear()
    total = []
    try:
        for _ in range(runs):
            t = time.perf_counter()
            spec = project.sandbox_spec()
            acc["spec (incl. its refresh)"].append((time.perf_counter() - t) * 1000)
            sb.run(["true"], spec)
            total.append((time.perf_counter() - t) * 1000)
    finally:
        for owner, name, f in undo:
            setattr(owner, name, f)
    parts = [f"{k} {sum(v) / runs:.1f}" for k, v in acc.items()]
    return f"command {statistics.median(total):.1f} ms = " + ", ".join(parts)


def warm_cli_ms(repo: Path, home: Path, run_cli, runs: int) -> str:  # type: ignore[no-untyped-def]
    """The CLI served by the warm server (:mod:`codeward.cli.sandbox_warm`): one run outside CI
    starts it (a workspace under its threshold gets none: "-"), then, once it listens, the median."""
    from codeward.cli import sandbox_warm as warm

    workdir = str(repo.resolve())
    path = warm.socket_path(home, workdir)
    if sum(1 for _ in repo.rglob("*")) < warm.WARM_AFTER_ENTRIES:
        return "-"
    run_cli()
    deadline = time.monotonic() + 180
    while path is not None and not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if path is None or not path.exists():
        return "-"
    try:
        ms, err = median_ms(run_cli, max(runs, 5))
        return err or f"{ms:.0f} ms"
    finally:
        warm.stop_server(home, workdir)


def shell_tool_ms(repo: Path, runs: int) -> tuple[float, str]:
    """Median ms of a whole ``shell`` tool call (``true``) in an offline session, after two warm-up
    calls (the learner's watch is believed from its third refresh); the session is closed after."""
    import json

    from codeward.agent.session import build_session
    from codeward.config.load import ConfigOverrides
    from codeward.events import EventBus
    from codeward.providers.types import ToolCall
    from codeward.tools.asking import NoTerminalApprover

    s = build_session(
        repo,
        ConfigOverrides(approval_mode="full-auto"),
        events=EventBus(),
        approver=NoTerminalApprover(),
        need_key=False,
        persist=False,
    )
    n = iter(range(10**6))

    def call() -> None:
        out = s.agent.tools.dispatch(ToolCall(f"c{next(n)}", "shell", json.dumps({"command": "true"})), s.ctx).text
        if not str(out).startswith("exit code: 0"):
            raise RuntimeError(str(out)[:200])

    try:
        for _ in range(3):
            call()
        return median_ms(call, max(runs, 5))
    finally:
        s.close()


def watch_cost(project, repo: Path, runs: int) -> str:  # type: ignore[no-untyped-def]
    """The new-names watch (:mod:`codeward.sandbox.new_names`): its first ``prepare`` (every directory
    added), a later one with nothing new, and one after a new directory, in ms; and its watch count."""
    from codeward.sandbox.census import index_for
    from codeward.sandbox.new_names import NewNames

    spec = project.sandbox_spec()
    index = index_for(spec.workspace)
    rules = spec.ignore_rules
    firsts = []
    for _ in range(max(1, runs // 2)):
        w = NewNames(spec.workspace, rules.hides, rules.key)
        t = time.perf_counter()
        w.prepare(index, spec.masked)
        firsts.append((time.perf_counter() - t) * 1000)
        watches = w.watched
        w.close()
    w = NewNames(spec.workspace, rules.hides, rules.key)
    w.prepare(index, spec.masked)
    steady, _ = median_ms(lambda: w.prepare(index, spec.masked), runs)
    grown = []
    for i in range(runs):
        (repo / "src" / f"new{i}").mkdir()
        (repo / "src" / f"new{i}" / "a.py").write_text("x = 1\n")
        index.refresh()
        t = time.perf_counter()
        w.prepare(index, spec.masked)
        grown.append((time.perf_counter() - t) * 1000)
    w.close()
    return (
        f"{watches} watches; first prepare {statistics.median(firsts):.1f} ms, then {steady:.2f} ms per command "
        f"with nothing new, {statistics.median(grown):.2f} ms with one new directory"
    )


def held(sb, project, runs: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Median in-agent ms with the holder, and how many holders the runs started."""
    import codeward.sandbox.view_holder as vh

    starts = [0]
    start = vh.start

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        starts[0] += 1
        return start(*a, **k)

    vh.start = counted
    try:
        ms, _ = median_ms(lambda p=project: sb.run(["true"], p.sandbox_spec()), runs)
    finally:
        vh.start = start
    return ms, starts[0]


def mount_cost(base: Path, counts: list[int], runs: int) -> None:
    """``sandbox.run(["true"])`` with N scattered hidden files mounted by bubblewrap, then by the
    launcher inside the namespace (root only), to place :data:`~codeward.sandbox.bwrap.INSIDE_THRESHOLD`."""
    import codeward.sandbox.bwrap as bw
    from codeward.project import open_project
    from codeward.sandbox import select_sandbox
    from codeward.sandbox.layout import build_layout

    sb = select_sandbox("bwrap")
    sb.hold_view = False  # what one namespace per command costs
    keep = bw.INSIDE_THRESHOLD
    print("\n| hidden files + anchors | bubblewrap mounts them | the launcher mounts them |\n|---|---|---|")
    try:
        for n in counts:
            repo = make_repo(base / f"mc{n}", 20000, n, max(1, n // 2))
            time.sleep(0.2)
            spec = open_project(repo).sandbox_spec()
            lay = build_layout(spec)
            row = []
            for threshold in (10**9, 0):
                bw.INSIDE_THRESHOLD = threshold
                ms, err = median_ms(lambda spec=spec: sb.run(["true"], spec), runs)
                row.append(err or f"{ms:.1f} ms")
            print(f"| {len(lay.hidden_files) + len(lay.anchored)} | {row[0]} | {row[1]} |", flush=True)
    finally:
        bw.INSIDE_THRESHOLD = keep


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="400,50000,200000")
    ap.add_argument("--ignored", type=int, default=5000)
    ap.add_argument("--dirs", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--secret", action="store_true", help="put one file holding a credential in each repository")
    ap.add_argument("--watch", action="store_true", help="also the new-names watch's own cost per size")
    ap.add_argument("--mount-cost", default="", help="hidden-file counts: bubblewrap against the launcher, then exit")
    args = ap.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
        f"uid {os.getuid()}, load {os.getloadavg()[0]:.1f}"
    )
    print(
        "\n| files | CLI cold | CLI one-shot | CLI warm | spec | run - bare | in-agent | in-agent, no holder "
        "| new holders | mounts | shell tool | result |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        home = base / "cwhome"
        os.environ["CODEWARD_HOME"] = str(home)
        home.mkdir()
        from codeward.project import open_project
        from codeward.sandbox import select_sandbox
        from codeward.sandbox.layout import build_layout
        from codeward.sandbox.runner import run_process

        if args.mount_cost:
            mount_cost(base, [int(n) for n in args.mount_cost.split(",")], args.runs)
            return 0
        sb = select_sandbox("bwrap")
        plain = select_sandbox("bwrap")
        plain.hold_view = False
        env = {"PATH": "/usr/bin:/bin"}
        bare, _ = median_ms(lambda: run_process(["true"], env=env, cwd=tmp, timeout_s=30, output_cap=65536), 20)
        cli = [sys.executable, "-m", "codeward", "sandbox", "--", "true"]
        for size in (int(s) for s in args.sizes.split(",")):
            repo = make_repo(base, size, args.ignored, args.dirs, args.secret)
            time.sleep(0.2)  # nothing racy: what the index lists now it can trust next time

            def run_cli(repo: Path = repo, ci: bool = True) -> None:
                # a user's install has its bytecode: PYTHONDONTWRITEBYTECODE would time compiling
                env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CI")}
                if ci:
                    env["CI"] = "true"  # one-shot: no warm server is started
                p = subprocess.run(cli, cwd=repo, capture_output=True, text=True, check=False, env=env)
                if p.returncode != 0:
                    raise RuntimeError(p.stderr.strip() or f"exit {p.returncode}")

            t = time.perf_counter()
            try:
                run_cli()
                cold_ms = (time.perf_counter() - t) * 1000
            except RuntimeError:
                cold_ms = float("nan")
            cli_ms, cli_err = median_ms(run_cli, args.runs)
            warm_ms = warm_cli_ms(repo, home, lambda repo=repo: run_cli(repo, ci=False), args.runs)
            project = open_project(repo)
            spec_ms, _ = median_ms(project.sandbox_spec, args.runs)
            spec = project.sandbox_spec()
            lay = build_layout(spec)
            mounts = len(lay.hidden_files) + len(lay.hidden_dirs) + len(lay.readonly) + len(lay.anchored)
            run_ms, run_err = median_ms(lambda spec=spec: sb.run(["true"], spec), args.runs)
            agent_ms, holders = held(sb, project, args.runs)
            plain_ms, _ = median_ms(lambda p=project: plain.run(["true"], p.sandbox_spec()), args.runs)
            tool_ms, tool_err = shell_tool_ms(repo, args.runs)
            result = cli_err or run_err or tool_err or "runs"
            print(
                f"| {size:,} | {cold_ms:.0f} ms | {cli_ms:.0f} ms | {warm_ms} | {spec_ms:.1f} ms | {run_ms - bare:.1f} ms "
                f"| {agent_ms - bare:.1f} ms | {plain_ms - bare:.1f} ms | {holders} | {mounts} "
                f"| {tool_ms - bare:.1f} ms | {result} |",
                flush=True,
            )
            if args.breakdown:
                runs = max(args.runs, 5)
                print(f"  {size:,} files, holder, ms per command: {breakdown(project, sb, runs)}", flush=True)
                print(f"  {size:,} files, no holder, ms per command: {breakdown(project, plain, runs)}", flush=True)
            if args.watch:
                print(f"  {size:,} files, new-names watch: {watch_cost(project, repo, args.runs)}", flush=True)
            sb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
