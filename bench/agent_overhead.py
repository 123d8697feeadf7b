"""The agent's own overhead per tool round trip, against a zero-latency scripted model.

Script (issue 2): the model asks for 10 commands of ``true`` one after the other, then answers.
We time the whole ``codeward exec -a full-auto`` process (start-up, 11 requests through the gate,
10 policy decisions, 10 sandboxed commands, events) and, separately, a run whose script has no
tool calls, so the difference divided by 10 is the cost of one round trip.

usage: python bench/agent_overhead.py [--runs N] [--wire chat|responses] [--codeward EXE]

Reference (issue 2): Codex CLI takes about 1 s for this script on this kind of machine; the goal
is well under half of that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = HERE.parent / "tests" / "support" / "model_server.py"


def start_server(script: list[dict], work: Path) -> tuple[subprocess.Popen, int]:
    (work / "script.json").write_text(json.dumps(script))
    port_file = work / "port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(SERVER), str(work / "script.json"), str(port_file)])
    for _ in range(100):
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("scripted server did not start")


def one_run(codeward: list[str], script: list[dict], wire: str, work: Path) -> float:
    proc, port = start_server(script, work)
    try:
        home = work / "home"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        (home / "config.toml").write_text(
            'provider = "bench"\nmodel = "m"\n[history]\npersistence = "none"\n'
            f'[providers.bench]\nbaseURL = "http://127.0.0.1:{port}/v1"\nwire_api = "{wire}"\nenvKey = "BENCH_KEY"\n'
        )
        repo = work / "repo"
        if not repo.exists():
            repo.mkdir()
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        # the key in an environment variable, as in CI (the keychain lookup is not part of this figure)
        env = {**os.environ, "CODEWARD_HOME": str(home), "HOME": str(work), "BENCH_KEY": "sk-bench-0123456789"}
        t = time.perf_counter()
        p = subprocess.run(
            [*codeward, "exec", "--json", "-a", "full-auto", "go"], cwd=repo, env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"codeward failed: {p.stderr.strip()[-300:]}")
        done = [
            json.loads(line) for line in p.stdout.splitlines() if '"command_execution"' in line and "completed" in line
        ]
        expected = sum(1 for s in script if s.get("tool") == "shell")
        if sum(1 for e in done if e["type"] == "item.completed") != expected:
            raise SystemExit("not every command ran")
        return elapsed
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--wire", default="chat", choices=["chat", "responses"])
    ap.add_argument("--codeward", default=None, help="the codeward executable (default: python -m codeward)")
    a = ap.parse_args()
    cw = [a.codeward] if a.codeward else [sys.executable, "-m", "codeward"]
    ten = [{"tool": "shell", "args": {"command": "true"}}] * 10 + [{"text": "done"}]
    zero = [{"text": "done"}]
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        one_run(cw, ten, a.wire, work)  # warm the page cache
        full = [one_run(cw, ten, a.wire, work) for _ in range(a.runs)]
        base = [one_run(cw, zero, a.wire, work) for _ in range(a.runs)]
    f, b = statistics.median(full), statistics.median(base)
    print(f"wire api: {a.wire}; runs: {a.runs}")
    print(f"10 x `true` + final answer, whole process: median {f * 1000:.0f} ms (min {min(full) * 1000:.0f})")
    print(f"final answer only, whole process:          median {b * 1000:.0f} ms (min {min(base) * 1000:.0f})")
    print(f"per tool round trip (request + policy + sandboxed command + events): {(f - b) / 10 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
