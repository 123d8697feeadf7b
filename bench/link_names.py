#!/usr/bin/env python3
"""What the check for other names of a secret file costs (``privacy/link_names.py``).

    python bench/link_names.py REPO [--runs N]

REPO is a large tree (``bench/sandbox_scale.py`` makes them). A file holding a sample key is put
in it as uv installs a package: hard-linked from a store outside the tree. The learner walks the
tree once, then ``linked_outside`` is timed three ways: the first answer for a bubblewrap command
(``find`` over the tree), the first for a Landlock command (the tree and the host's temporary
directories), and the kept answer (what every later command pays while nothing changed). The file
and its store are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.link_names import host_temp
from codeward.privacy.scanner import load_scanner

SAMPLE = "aws_secret_access_key = Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    repo = args.repo.resolve()
    # the store where a home's is: outside /tmp (a Landlock command writes there), on the tree's device
    store = Path(tempfile.mkdtemp(prefix="link-bench-store-", dir="/var/tmp"))
    (store / "fixture.py").write_text(SAMPLE)
    installed = repo / "venv-fixture-linked.py"
    os.link(store / "fixture.py", installed)
    entries = sum(len(d) + len(f) for _, d, f in os.walk(repo))
    tmp_entries = sum(len(d) + len(f) for t in set(host_temp()) for _, d, f in os.walk(t))
    print(f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, uid {os.getuid()}")
    print(f"{repo}: {entries} entries; host temporary directories: {tmp_entries} entries")
    try:
        learner = WorkspaceSecrets(repo, load_scanner())
        start = time.perf_counter()
        learner.refresh()
        print(f"first walk {time.perf_counter() - start:.1f} s")
        for label, places in (("bubblewrap (the tree)", ()), ("Landlock (the tree and /tmp)", host_temp())):
            firsts, kept = [], []
            for _ in range(args.runs):
                learner._linked_verdict = None  # a new answer, as after a link count changed
                t = time.perf_counter()
                found = learner.linked_outside(places)
                firsts.append(time.perf_counter() - t)
                t = time.perf_counter()
                learner.linked_outside(places)
                kept.append(time.perf_counter() - t)
                assert found == {}, found
            print(
                f"{label}: first answer median {statistics.median(firsts) * 1000:.0f} ms "
                f"(min {min(firsts) * 1000:.0f}), kept answer median {statistics.median(kept) * 1000:.2f} ms"
            )
        learner.stop()
    finally:
        installed.unlink()
        (store / "fixture.py").unlink()
        store.rmdir()


if __name__ == "__main__":
    main()
