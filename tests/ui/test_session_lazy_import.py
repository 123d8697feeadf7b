"""rich and prompt_toolkit load only when a session opens, so ``codeward --help`` stays fast."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("rich", "prompt_toolkit", "httpx", "difflib")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return {m.split(".")[0] for m in out.split()}


def test_help_and_the_session_modules_import_nothing_heavy():
    code = (
        "import contextlib, io\n"
        "from codeward.cli.app import run\n"
        "import codeward.cli.session_cmd, codeward.cli.resume_cmd\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    run(['--help'])\n"
    )
    assert loaded_after(code) == set()


def test_the_refusal_without_a_terminal_imports_nothing_heavy():
    code = (
        "import contextlib, io\n"
        "from codeward.cli.app import run\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert run([]) == 2\n"
    )
    assert loaded_after(code) == set()


def test_the_probe_sees_a_heavy_import():  # the probe itself can fail
    assert loaded_after("import rich.console") == {"rich"}
