"""Run by test_sandbox_nonroot.py as an unprivileged user, with the system Python and no pytest.

argv[1] is a JSON object: tier, workspace, outside, sentinel pid, max_processes. Prints one JSON
object mapping each attempt to the command's output and exit code; the test judges them, and the
host-side effects, as root.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from codeward.sandbox import SandboxSpec, select_sandbox

FORKS = r"""
import os, time
n = 0
for i in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        print("fork failed", e.errno)
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    n += 1
print("forked", n)
"""


def main() -> None:
    cfg = json.loads(sys.argv[1])
    ws = Path(cfg["workspace"])
    home = Path(cfg["home"])
    sb = select_sandbox(cfg["tier"])
    spec = SandboxSpec(
        workspace=ws,
        cwd=ws,
        timeout_s=30,
        max_processes=cfg["max_processes"],
        protected=(ws / "AGENTS.md",),
        codeward_home=home / ".codeward",
    )
    attempts = {
        "forks": ["python3", "-c", FORKS],
        "write_outside": ["sh", "-c", f"echo pwned > {cfg['outside']}/victim.txt"],
        "agents": ["sh", "-c", "echo pwned >> AGENTS.md"],
        "ssh": ["sh", "-c", f"cat {home}/.ssh/id_rsa"],
        "auth": ["sh", "-c", f"cat {home}/.codeward/auth.json"],
        "environ": ["sh", "-c", f"cat /proc/{cfg['sentinel']}/environ; kill -9 {cfg['sentinel']}"],
        "whoami": ["id", "-u"],
    }
    out = {}
    for name, argv in attempts.items():
        r = sb.run(argv, spec)
        out[name] = {"exit": r.exit_code, "output": r.output, "tier": r.tier}
    # chmod 000 on a directory hides its files from the ignore walk that builds the next spec (as
    # the owner, codeward cannot list it either); the next command must still not read them
    secret = ws / "config" / "production.yml"
    hidden = dataclasses.replace(spec, masked=(secret,))
    r = sb.run(["sh", "-c", "chmod 000 config"], hidden)
    out["chmod_hide"] = {"exit": r.exit_code, "output": r.output, "tier": r.tier}
    unaware = dataclasses.replace(spec, masked=())  # what the walk finds now: nothing to mask
    r = sb.run(["sh", "-c", "chmod 755 config; cat config/production.yml"], unaware)
    out["chmod_read"] = {"exit": r.exit_code, "output": r.output, "tier": r.tier}
    # control: the same with the unlistable-directory check turned off reads the secret
    import codeward.sandbox.census as census

    census.CensusIndex.unreadable = lambda self: []  # type: ignore[method-assign]
    sb.run(["sh", "-c", "chmod 000 config"], hidden)
    r = sb.run(["sh", "-c", "chmod 755 config; cat config/production.yml"], unaware)
    out["chmod_control"] = {"exit": r.exit_code, "output": r.output, "tier": r.tier}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
