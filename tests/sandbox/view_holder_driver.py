"""Run by test_view_holder_nonroot.py as an unprivileged user, with the system Python and no pytest.

argv[1] is a JSON object: workspace, home, marker (the content of the workspace's ``.env``), token,
and ``control``: ``"blind"`` reuses the holder whenever it is alive (no view comparison, no host watch). Runs, in
one sandbox (one session): two unchanged commands, a background process started by a command,
the host saving ``.env`` through a rename, and a mount attempt; prints what each showed and which
holder ran it. The test judges them, and the processes left, as root.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from codeward.sandbox import SandboxSpec, select_sandbox


def alive_with(token: str) -> int:
    n = 0
    for name in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        n += f"sleep 60 # {token}".encode() in cmd and state != b"Z"  # not this driver, whose argv holds it too
    return n


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if cfg["control"] == "blind":
        from codeward.sandbox import host_watch, view_holder

        view_holder.ViewHolder.usable = lambda self, part, key: self.proc.poll() is None  # type: ignore[method-assign]
        host_watch.HostWatch.poll = lambda self: False  # type: ignore[method-assign]
    ws = Path(cfg["workspace"])
    spec = SandboxSpec(
        workspace=ws, cwd=ws, timeout_s=30, codeward_home=Path(cfg["home"]) / ".codeward", masked=(ws / ".env",)
    )
    sb = select_sandbox("bwrap")
    out: dict[str, object] = {}

    def run(name: str, command: str) -> None:
        r = sb.run(["bash", "-c", command], spec)
        out[name] = {"output": r.output, "exit": r.exit_code, "holder": sb.slot.pid}

    for i in range(4):  # until the index has settled: an unchanged view then reuses the holder
        run(f"settle{i}", "true")
    run("unchanged", "echo $$; id -u; cat .env; echo rc=$?")
    token = cfg["token"]
    run(
        "background",
        f"setsid sh -c 'sleep 60 # {token}' </dev/null >/dev/null 2>&1 & (nohup sh -c 'sleep 60 # {token}' >/dev/null 2>&1 &) ; echo started",
    )
    time.sleep(0.3)
    out["alive_after_background"] = alive_with(token)
    run(
        "mount",
        "python3 -c \"import ctypes; l = ctypes.CDLL(None, use_errno=True); print(l.umount2(b'.env', 2), ctypes.get_errno())\"",
    )
    tmp = ws / ".env.swp"
    tmp.write_text(cfg["marker"] + "-saved\n")
    os.replace(tmp, ws / ".env")  # the host saves .env as editors do
    run("after_host_save", "cat .env; echo rc=$?")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
