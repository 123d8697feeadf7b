"""chmod modes read as GNU chmod reads them: the model in chmod_modes.py against the real chmod.

For a generated mode, :func:`covers` claims the mode surely, possibly or never sets all of 0777.
Real chmod is run on a file and a directory, from mode 000 and 777, under umask 000 and 777:

* "yes": every run ends with all of 0777 set, whatever the start, umask or kind of file;
* "no":  no run from 000 ends with all of 0777 set (neither the umask nor ``X`` can make it so).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codeward.policy.chmod_modes import covers, mode_effect

CHMOD = shutil.which("chmod")
pytestmark = pytest.mark.skipif(CHMOD is None, reason="chmod is not installed on this machine")

perms = st.one_of(
    st.text(alphabet="rwxXst", max_size=4),
    st.sampled_from(["u", "g", "o"]),
    st.text(alphabet="01234567", min_size=1, max_size=4),
)
action = st.tuples(st.sampled_from("+-="), perms).map("".join)
clause = st.tuples(st.text(alphabet="ugoa", max_size=3), st.lists(action, min_size=1, max_size=2)).map(
    lambda t: t[0] + "".join(t[1])
)
symbolic = st.lists(clause, min_size=1, max_size=3).map(",".join)
numeric = st.tuples(st.text(alphabet="0", max_size=2), st.text(alphabet="01234567", min_size=1, max_size=4)).map(
    "".join
)
modes = st.one_of(symbolic, numeric, st.sampled_from(["a+rwx", "u=rwx,go=u", "+rwx", "a+rwX", "=777", "-w,a+rwx"]))

_SCRIPT = r"""
mode=$1
for start in 000 777; do for um in 000 777; do for kind in f d; do
  t=t_${start}_${um}_$kind; rm -rf "$t"
  if [ $kind = d ]; then mkdir "$t"; else : > "$t"; fi
  chmod $start "$t"
  ( umask $um; chmod -- "$mode" "$t" ) 2>/dev/null || { echo FAIL; exit 0; }
  echo "$start $um $kind $(stat -c %a "$t")"
done; done; done
"""


def _real(mode: str, tmp: Path) -> list[tuple[str, str, str, int]] | None:
    out = subprocess.run(["sh", "-c", _SCRIPT, "sh", mode], cwd=tmp, capture_output=True, text=True, timeout=30)
    # leave no directory of mode 000 behind: the temporary directory outlives the run, and one of
    # this user's that it cannot list makes a Landlock command's hard-link search refuse
    subprocess.run(["sh", "-c", "chmod -R u+rwx t_* 2>/dev/null; rm -rf t_*"], cwd=tmp, check=False)
    if "FAIL" in out.stdout:
        return None
    rows = [line.split() for line in out.stdout.splitlines()]
    return [(a, b, c, int(d, 8)) for a, b, c, d in rows]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=modes)
def test_the_model_agrees_with_real_chmod(mode: str, tmp_path: Path) -> None:
    effect = mode_effect(mode)
    assume(effect is not None)
    results = _real(mode, tmp_path)
    assume(results is not None)  # a mode GNU chmod refuses runs nothing
    assert results is not None
    claim = covers(effect, 0o777)
    if claim == "yes":
        assert all(r & 0o777 == 0o777 for *_k, r in results), (mode, results)
    if claim == "no":
        assert all(r & 0o777 != 0o777 for start, *_k, r in results if start == "000"), (mode, results)


def test_the_harness_sees_both_outcomes(tmp_path: Path) -> None:
    """Control: 777 is rwx for all in every run, 644 in none, +rwx only without a umask."""
    assert all(r & 0o777 == 0o777 for *_k, r in _real("777", tmp_path) or [])
    assert not any(r & 0o777 == 0o777 for s, *_k, r in _real("644", tmp_path) or [] if s == "000")
    plus = _real("+rwx", tmp_path) or []
    assert {r & 0o777 for s, u, _k, r in plus if s == "000"} == {0o777, 0}
    assert covers(mode_effect("+rwx"), 0o777) == "maybe"
    assert _real("u+q", tmp_path) is None
