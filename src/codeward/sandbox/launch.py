"""Starting the stdlib-only launcher (``_launcher.py``) safely: a fixed copy of its code, a trusted Python.

The launcher's text is read when this module is imported (at session start, before the model has
done anything) and passed with ``-c``; the interpreter is this process's own real binary unless it
lies inside a writable directory of the command (a ``.venv`` in the workspace), in which case the
system ``python3`` is used; if neither is safe the tier refuses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codeward.errors import SandboxUnavailable
from codeward.sandbox.spec import is_within

LAUNCHER_SOURCE: str = Path(__file__).with_name("_launcher.py").read_text(encoding="utf-8")
# the view holder's supervisor: the launcher's functions without its entry point, then its own
_MAIN_GUARD = '\nif __name__ == "__main__":'
HOLDER_SOURCE: str = (
    LAUNCHER_SOURCE.rpartition(_MAIN_GUARD)[0]
    + "\n"
    + Path(__file__).with_name("_holder.py").read_text(encoding="utf-8")
)
LAUNCHER_MARK = "codeward-launcher:"
SETUP_FAILED = 125


def _prefix_of(binary: Path) -> Path:
    """The installation a Python binary loads its standard library from (``/usr`` for /usr/bin/python3)."""
    return binary.parent.parent


def trusted_python(writable: Sequence[Path]) -> str:
    """A Python binary whose code and standard library a command cannot have changed."""
    candidates = [(Path(os.path.realpath(sys.executable)), Path(sys.base_prefix).resolve())]
    for sys_py in ("/usr/bin/python3", "/usr/local/bin/python3"):
        p = Path(sys_py)
        if p.exists():
            real = Path(os.path.realpath(p))
            candidates.append((real, _prefix_of(real)))
    for binary, prefix in candidates:
        if not binary.is_file():
            continue
        if any(is_within(binary, w) or is_within(prefix, w) for w in writable):
            continue
        return str(binary)
    raise SandboxUnavailable(
        "sandbox: every Python found lies inside a writable directory of the command, so the launcher could be "
        "tampered with; run codeward from an interpreter outside the workspace"
    )


def encode_spec(spec: dict[str, Any]) -> str:
    """The launcher's line format (see ``_launcher.parse_spec``); paths travel hex-encoded."""
    lines: list[str] = []
    for key, value in (spec.get("rlimits") or {}).items():
        lines.append(f"{key} {int(value)}")
    for flag in ("drop_caps", "supervise"):
        if spec.get(flag):
            lines.append(flag)
    if spec.get("mounts_fd") is not None:
        lines.append(f"mounts_fd {int(spec['mounts_fd'])}")
    if spec.get("run_as"):
        uid, gid = spec["run_as"]
        lines.append(f"run_as {int(uid)} {int(gid)}")
    if spec.get("seccomp"):
        lines.append("seccomp " + bytes(spec["seccomp"]).hex())
    ll = spec.get("landlock")
    if ll:
        lines.append(f"ll_fs {int(ll['handled_fs'])}")
        if ll.get("handled_net"):
            lines.append(f"ll_net {int(ll['handled_net'])}")
        if ll.get("scoped"):
            lines.append(f"ll_scoped {int(ll['scoped'])}")
        for path, access, nofollow in ll["rules"]:
            hexpath = os.fsencode(path).hex()
            lines.append(f"rule {int(access)} {1 if nofollow else 0} {hexpath}")
        for port, access in ll.get("net_ports", []):
            lines.append(f"port {int(port)} {int(access)}")
    return "\n".join(lines)


SPEC_CHUNK = 64 * 1024  # one argv string may hold 128 KiB (MAX_ARG_STRLEN); thousands of Landlock rules do not fit


def launcher_argv(python: str, spec: dict[str, Any], argv: Sequence[str]) -> list[str]:
    """The launcher's command line: the spec in as many argv strings as it needs, then ``--`` and ``argv``."""
    return [python, "-I", "-S", "-c", LAUNCHER_SOURCE, *spec_chunks(encode_spec(spec)), "--", *argv]


def spec_chunks(text: str) -> list[str]:
    """``text`` cut at line ends into pieces of at most :data:`SPEC_CHUNK` characters (a line is never split)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        if current and size + len(line) + 1 > SPEC_CHUNK:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    chunks.append("\n".join(current))
    return chunks


def setup_failure(exit_code: int | None, output: str) -> str | None:
    """The launcher's own error line when it refused to start the command, else None."""
    if exit_code != SETUP_FAILED:
        return None
    for line in output.splitlines():
        if line.startswith(LAUNCHER_MARK):
            return line[len(LAUNCHER_MARK) :].strip()
    return None


def encode_mounts(mounts: Sequence[tuple[str, str, str]]) -> bytes:
    """The launcher's mount list (``KIND HEXSRC HEXDST`` per line), read from a descriptor."""
    return b"".join(
        kind.encode() + b" " + os.fsencode(src).hex().encode() + b" " + os.fsencode(dst).hex().encode() + b"\n"
        for kind, src, dst in mounts
    )


def holder_argv(python: str, sock: int, seccomp: bytes, mounts_fd: int | None) -> list[str]:
    """The view holder's supervisor (``_holder.py``): its socket, the filter for every command, the mounts."""
    lines = [f"sock {int(sock)}", "seccomp " + bytes(seccomp).hex()]
    if mounts_fd is not None:
        lines.append(f"mounts_fd {int(mounts_fd)}")
    return [python, "-I", "-S", "-c", HOLDER_SOURCE, "hold", "\n".join(lines)]


def encode_request(argv: Sequence[str], env: dict[str, str], cwd: str, rlimits: dict[str, int]) -> bytes:
    """One command for the holder (``_holder.parse_request``): hex fields, one per line."""
    out = [b"cwd " + os.fsencode(cwd).hex().encode()]
    out += [b"arg " + os.fsencode(a).hex().encode() for a in argv]
    out += [b"env " + os.fsencode(f"{k}={v}").hex().encode() for k, v in env.items()]
    out += [f"{k} {int(v)}".encode() for k, v in rlimits.items()]
    return b"\n".join(out) + b"\n"
