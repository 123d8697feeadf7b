"""The maintained view, judged from the host through real tiers: what a command creates is hidden from
the next command, and the saved index (and its key) is out of every command's reach."""

from __future__ import annotations

import time
from typing import Any

from tests.support.sandbox_helpers import Project

from codeward import dirindex
from codeward.dirindex import store
from codeward.workspace import WATCHED_NAMES


def test_a_secret_a_command_writes_is_hidden_from_the_next_command(project: Project, sandbox: Any) -> None:
    """The next spec sees the new file through the index (no walk): in this process, and in a new
    one that starts from the saved index. The control ("none") reads it."""
    root = project.root
    project.run(sandbox, "true")  # the index is built and saved
    time.sleep(0.15)
    project.run(sandbox, "mkdir -p src/deep/er && echo CWMARK-new-secret > src/deep/er/fresh.key")
    assert (root / "src/deep/er/fresh.key").read_text() == "CWMARK-new-secret\n"  # written, on the host
    same = project.run(sandbox, "cat src/deep/er/fresh.key")
    dirindex.forget(root.resolve())  # what the next process has: the saved index only
    fresh = project.run(sandbox, "cat src/deep/er/fresh.key")
    assert "CWMARK-new-secret" not in same.output
    assert "CWMARK-new-secret" not in fresh.output


def test_the_saved_index_and_its_key_are_out_of_reach(project: Project, sandbox: Any) -> None:
    """A command can neither read the saved index or its key nor replace them (the home is hidden).
    The control ("none") reads them."""
    project.run(sandbox, "true")
    cache = project.cw_home / "cache"
    key, saved = cache / store.KEY_FILE, store.cache_file(project.root.resolve(), cache)
    secret = key.read_bytes()
    r = project.run(sandbox, f"cat {saved}; ls -a {cache}; echo '{{}}' > {saved}; rm -f {key}")
    assert '"format"' not in r.output  # the index's text was not read
    assert store.KEY_FILE not in r.output.splitlines()  # nor the cache directory listed
    assert key.read_bytes() == secret and key.stat().st_mode & 0o777 == 0o600  # unchanged on the host
    assert store.load(project.root.resolve(), WATCHED_NAMES, cache) is not None  # still codeward's own
