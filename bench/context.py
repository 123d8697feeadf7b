"""What context accounting and compaction cost (issue 14).

Three measurements:

1. the token estimate before each request: the request is built and passed through the gate once
   more without being recorded (``Agent.prepare(record=False)``), for histories filling 90% of
   16k, 128k and 272k-token windows; warm (texts already scanned: every request after the first)
   and cold (the newest tool output not scanned yet);
2. ``fit_output`` on one 100 KB tool output (cut to the 10k-token budget) and the local part of a
   compaction (choosing what to keep, re-measuring), without the model's time;
3. end to end: ``codeward exec`` reading 60 files of 100 KB against the scripted loopback server,
   with a 16k-token window the server enforces, and with a 1M-token window for comparison:
   requests, summaries, bytes sent, largest request, wall time.

usage: python bench/context.py [--repeat 20] [--skip-e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from codeward.agent.context import (  # noqa: E402
    COMPACT_PROMPT,
    ContextTracker,
    compacted_items,
    fit_output,
    shrink_for_summary,
)
from codeward.agent.loop import Agent  # noqa: E402
from codeward.events import EventBus  # noqa: E402
from codeward.privacy.gate import Gate  # noqa: E402
from codeward.privacy.redact import Redactor  # noqa: E402
from codeward.privacy.scanner import load_scanner  # noqa: E402
from codeward.providers.responses import ResponsesFormat  # noqa: E402
from codeward.providers.types import AssistantTurn, Message, ToolCall, ToolResult  # noqa: E402
from codeward.tools import default_tools  # noqa: E402

LINE = "    result = compute(value, other_value)  # an ordinary line of source text, nothing secret\n"


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.2f} ms"


def _agent(window: int) -> Agent:
    gate = Gate(Redactor(load_scanner()), host="h", url="u")
    ctx = SimpleNamespace(output_budget_tokens=0)
    tracker = ContextTracker(window)
    agent = Agent(
        model="m",
        wire=ResponsesFormat(),
        gate=gate,
        tools=default_tools(),
        ctx=ctx,  # type: ignore[arg-type]
        events=EventBus(),
        preamble=Message("developer", "preamble"),
        max_steps=1,
        context=tracker,
    )
    agent.items.append(Message("user", "the task"))
    n = 0
    while agent.context.estimate(len(agent.prepare(record=False).body)) < agent.context.limit:
        output = LINE * (agent.context.tool_budget * 4 // len(LINE) - 1)
        agent.items.append(AssistantTurn("", (ToolCall(f"c{n}", "read_file", json.dumps({"path": f"f{n}"})),)))
        agent.items.append(ToolResult(f"c{n}", "read_file", f"file {n}\n" + output))
        n += 1
    return agent


def bench_estimate(repeat: int) -> None:
    print("| window | history | estimate, warm | estimate, newest output cold |")
    print("|---|---|---|---|")
    for window in (16_000, 128_000, 272_000):
        agent = _agent(window)
        size = len(agent.prepare(record=False).body)
        warm = []
        for _ in range(repeat):
            t = time.perf_counter()
            agent.context.estimate(len(agent.prepare(record=False).body))
            warm.append(time.perf_counter() - t)
        cold = []
        last = agent.items[-1]
        assert isinstance(last, ToolResult)
        for i in range(repeat):
            agent.items[-1] = ToolResult(last.call_id, last.name, f"variant {i}\n" + last.output)
            t = time.perf_counter()
            agent.context.estimate(len(agent.prepare(record=False).body))
            cold.append(time.perf_counter() - t)
        print(f"| {window // 1000}k | {size / 1024:.0f} KiB | {_ms(warm)} | {_ms(cold)} |")


def bench_local(repeat: int) -> None:
    text = LINE * (100 * 1024 // len(LINE))
    fit = []
    for _ in range(repeat):
        t = time.perf_counter()
        fit_output(text, 10_000, "read_file")
        fit.append(time.perf_counter() - t)
    print(f"\nfit_output, 100 KB output to 10k tokens: {_ms(fit)}")
    agent = _agent(128_000)
    local = []
    for _ in range(repeat):
        t = time.perf_counter()
        history = list(agent.items)
        size = agent.context.estimate(
            len(agent.prepare(record=False, items=[*history, Message("user", COMPACT_PROMPT)]).body)
        )
        history = shrink_for_summary(
            history, lambda i: False, max(size - agent.context.limit, 1), agent.context.tool_budget
        )
        new = compacted_items(agent.preamble, agent.items, "a summary " * 200, agent.context.limit // 5)
        agent.context.estimate(len(agent.prepare(record=False, items=new).body))
        local.append(time.perf_counter() - t)
    print(f"compaction, local part at 128k (measure, shrink, rebuild, re-measure): {_ms(local)}")


def bench_e2e(window: int | None, files: int = 60) -> dict[str, float]:
    from tests.support.model_server import ModelServer

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        repo = work / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        for i in range(files):
            (repo / f"f{i:02d}.txt").write_text(f"file {i}\n" + LINE * (100 * 1024 // len(LINE)))
        server = ModelServer(
            [*({"tool": "read_file", "args": {"path": f"f{i:02d}.txt"}} for i in range(files)), {"text": "done"}],
            window=window,
            summary_marker=COMPACT_PROMPT[:40],
        )
        home = work / "home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'provider = "s"\nmodel = "scripted-model"\nmax_steps = 200\nmodel_context_window = {window or 1_000_000}\n'
            f'[providers.s]\nname = "S"\nbaseURL = "{server.url}"\nenvKey = "SCRIPTED_KEY"\nwire_api = "responses"\n'
        )
        env = {**os.environ, "CODEWARD_HOME": str(home), "SCRIPTED_KEY": "sk-bench-0000000000000000"}
        t = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-m", "codeward", "exec", "--json", "-a", "full-auto", "read all"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        reqs = server.requests
        server.close()
        if p.returncode != 0:
            raise SystemExit(f"exec failed: {p.stderr[-500:]}")
        sizes = [len(r.body.encode()) for r in reqs]
        return {
            "requests": len(reqs),
            "summaries": server.state.summaries,
            "refused": server.state.refused,
            "sent_mb": sum(sizes) / 1e6,
            "largest_kb": max(sizes) / 1024,
            "wall_s": wall,
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--skip-e2e", action="store_true")
    a = ap.parse_args()
    bench_estimate(a.repeat)
    bench_local(a.repeat)
    if a.skip_e2e:
        return
    print("\n| window | requests (summaries) | refused | sent in all | largest request | wall time |")
    print("|---|---|---|---|---|---|")
    for window in (16_000, None):
        r = bench_e2e(window)
        label = f"{window // 1000}k, enforced by the server" if window else "1M (no compaction needed)"
        print(
            f"| {label} | {r['requests']:.0f} ({r['summaries']:.0f}) | {r['refused']:.0f} | {r['sent_mb']:.1f} MB | "
            f"{r['largest_kb']:.0f} KiB | {r['wall_s']:.1f} s |"
        )


if __name__ == "__main__":
    main()
