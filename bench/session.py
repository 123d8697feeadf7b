"""The interactive session as a user feels it, in a pseudo-terminal against the scripted model.

Measured (medians):

* start-up: from spawning ``codeward`` to the prompt being drawn (config, keys, sandbox probe,
  audit log, rich and prompt_toolkit imported, the first prompt rendered);
* turn: from pressing Enter to the model's answer rendered, for a one-request turn (gate, HTTP
  round trip to a zero-latency server, Markdown rendering, session save);
* cancel (command): from Ctrl-C while a sandboxed ``sleep 30`` runs to the prompt drawn again, with
  the command's processes gone (checked in /proc);
* cancel (model): from Ctrl-C while the model has sent one delta and then stalls, to the prompt.

usage: python bench/session.py [--runs N]   (needs pexpect and a working sandbox tier)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.cli import write_config  # noqa: E402
from tests.support.model_server import ModelServer  # noqa: E402
from tests.ui.term import Term  # noqa: E402


def procs_with(token: str) -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                n += token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    return n


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.server = ModelServer()
        self.home = work / "cw"
        self.repo = work / "repo"
        self.repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=self.repo, check=True)
        write_config(self.home, self.server.url)
        self.env = {"CODEWARD_HOME": str(self.home), "HOME": str(work), "SCRIPTED_KEY": "sk-bench-0123456789"}

    def term(self, *args: str) -> Term:
        return Term(*args, cwd=self.repo, env=self.env, timeout=60)

    def startup(self) -> float:
        self.server.script([])
        t0 = time.perf_counter()
        t = self.term()
        t.prompt()
        took = time.perf_counter() - t0
        t.ctrl_d()
        t.wait_exit()
        return took

    def turns(self, n: int) -> list[float]:
        self.server.script([{"text": f"answer number {i} is **here**"} for i in range(n)])
        t = self.term()
        t.prompt()
        out = []
        for i in range(n):
            t.send(f"question {i}")
            time.sleep(0.05)
            t0 = time.perf_counter()
            t.send("\r")
            t.expect(rf"answer number {i} is here")
            out.append(time.perf_counter() - t0)
            t.prompt()
        t.ctrl_d()
        t.wait_exit()
        return out

    def cancel_command(self) -> tuple[float, int]:
        token = uuid.uuid4().hex[:12]
        started = self.repo / f"started-{token}"
        self.server.script([{"tool": "shell", "args": {"command": f"touch {started.name}; sleep 30 # {token}"}}])
        t = self.term("-a", "full-auto")
        t.prompt()
        t.line("run")
        while not started.exists():
            time.sleep(0.01)
        time.sleep(0.2)
        t0 = time.perf_counter()
        t.ctrl_c()
        t.expect("interrupted")
        t.prompt()
        took = time.perf_counter() - t0
        left = procs_with(token)
        t.ctrl_d()
        t.wait_exit()
        return took, left

    def cancel_model(self) -> float:
        self.server.script([{"stall": 30}])
        t = self.term()
        t.prompt()
        t.line("hello")
        t.expect("waiting for")
        time.sleep(0.3)
        t0 = time.perf_counter()
        t.ctrl_c()
        t.expect("interrupted")
        t.prompt()
        took = time.perf_counter() - t0
        t.ctrl_d()
        t.wait_exit()
        return took


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return f"median {statistics.median(xs) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        b = Bench(Path(d))
        try:
            b.startup()  # warm the page cache and __pycache__
            start = [b.startup() for _ in range(args.runs)]
            turns = b.turns(args.runs * 2)
            cancels = [b.cancel_command() for _ in range(max(3, args.runs // 2))]
            model = [b.cancel_model() for _ in range(max(3, args.runs // 2))]
        finally:
            b.server.close()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"start-up to prompt:           {ms(start)}")
    print(f"turn (Enter to answer shown): {ms(turns)}")
    print(f"Ctrl-C on a running command:  {ms([c[0] for c in cancels])}; processes left: {sum(c[1] for c in cancels)}")
    print(f"Ctrl-C while the model stalls: {ms(model)}")


if __name__ == "__main__":
    main()
