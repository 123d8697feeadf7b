"""Run by test_sandbox_census_reach.py as an unprivileged user, with the system Python and no pytest.

argv[1] is a JSON object: tier, workspace, home, command, masked (workspace-relative), and ``control``:
``"hold-closed"`` turns off opening up, for the Landlock put-back, what the command closed; ``"no-open"`` turns off
opening up the directories a command made unlistable, ``"none"`` also moving aside what the census
cannot list; ``"no-unlistable"`` keeps the Landlock tier from hiding a directory it cannot list
before the command. Prints the run's exit code, output and notes; the test
judges what stayed on disk, as root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from codeward.sandbox import SandboxSpec, select_sandbox


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if cfg["control"] in ("no-open", "none"):  # the census cannot list what the command closed
        from codeward.dirindex import reach

        reach.Opened.open_up = lambda self, path, st: False  # type: ignore[method-assign]
    if cfg["control"] == "hold-closed":  # the Landlock put-back does not open what the command closed
        import os

        from codeward.sandbox import hold

        hold._Modes.enter = lambda self, fd, part, shown: os.open(part, hold._DIR, dir_fd=fd)  # type: ignore[method-assign]
        hold._Modes._open_up = lambda self, fd, shown: False  # type: ignore[method-assign]
    if cfg["control"] == "none":  # ... and leaves what it cannot list where it is
        from codeward.sandbox import protect

        protect.move_aside_blind = lambda root, blind, rel: []
    if cfg["control"] == "no-unlistable":  # the Landlock tier does not hide what the index cannot list
        from codeward.sandbox import landlock

        landlock.unlistable = lambda roots: []
    ws = Path(cfg["workspace"])
    masked = tuple(ws / p for p in cfg.get("masked", ()))
    spec = SandboxSpec(workspace=ws, cwd=ws, timeout_s=30, codeward_home=Path(cfg["home"]) / ".codeward", masked=masked)
    r = select_sandbox(cfg["tier"]).run(["bash", "-c", cfg["command"]], spec)
    print(json.dumps({"exit": r.exit_code, "output": r.output, "tier": r.tier, "note": r.note}))


if __name__ == "__main__":
    main()
