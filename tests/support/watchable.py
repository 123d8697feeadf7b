"""A directory where the directory index's inotify watch is trusted, for the tests that need it.

The watch is never trusted on overlayfs (:data:`codeward.dirindex.WATCHABLE_FS`), which is what a
Docker container's ``/tmp`` usually is; there the tests put their tree on ``/dev/shm`` (tmpfs).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from codeward import dirindex


def watchable_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    if dirindex.watchable_device(os.stat(tmp_path).st_dev):
        return tmp_path
    for base in ("/dev/shm", "/run/user", "/run"):
        if os.path.isdir(base) and os.access(base, os.W_OK) and dirindex.watchable_device(os.stat(base).st_dev):
            d = Path(tempfile.mkdtemp(prefix="cw-watch-", dir=base))
            request.addfinalizer(lambda d=d: shutil.rmtree(d, ignore_errors=True))
            return d
    pytest.skip(f"no file system here where inotify sees every change ({tmp_path} is not one)")
