"""Known values: a secret the session knows is found again in every tracked encoding.

Each transform below is run by the real program (``rev``, ``xxd``, ``base32``, ``gzip``, ``tr``) on
a small file, exactly as a model's command would; the scanner alone misses every one of them (the
control), the redactor that knows the value replaces it, and ordinary text around it survives.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from codeward.privacy.gate import Gate
from codeward.privacy.known import KnownValues, variants
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import load_scanner

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8kW3nV2a"
LETTERS = "swordfishmoon"
FILE = f"first ordinary line\naws_secret_access_key = {SECRET}\nDB_PASSWORD={LETTERS}\nlast ordinary line\n"

TRANSFORMS = {
    "rev": "rev",
    "xxd-p": "xxd -p",
    "xxd-p-upper": "xxd -p | tr a-f A-F",
    "base32": "base32",
    "base64-wrapped": "base64 -w 20",
    "gzip-base64": "gzip -c | base64",
    "base64-x3": "base64 | base64 | base64",
    "rot13": "tr 'A-Za-z' 'N-ZA-Mn-za-m'",
    "upper": "tr a-z A-Z",
    "spaced": "sed 's/./& /g'",
    "interleaved": "sed 's/./&_/g'",
    "every-other-line-rev-base64": "rev | base64",
    "u-escapes": """python3 -c 'import sys; print("".join("\\\\u%04x" % ord(c) for c in sys.stdin.read()))'""",
    "char-codes": 'python3 -c "import sys; print([ord(c) for c in sys.stdin.read()])"',
    "od": "od -An -tx1",
    "xxd": "xxd",
    "hexdump-C": "hexdump -C",
    "od-c": "od -c",
    "od-x1z": "od -A x -t x1z",
    "url": "python3 -c \"import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=''))\"",
}


def transformed(cmd: str, data: str = FILE) -> str:
    return subprocess.run(["bash", "-c", cmd], input=data.encode(), capture_output=True, check=True).stdout.decode()


def redactor_knowing(*values: str) -> Redactor:
    r = Redactor(load_scanner())
    for v in values:
        r.known.add(v, "test")
    return r


def recoverable(text: str) -> list[object]:
    k = KnownValues()
    k.add(SECRET, "t")
    k.add(LETTERS, "t")
    return list(k.find(text))


# the transforms the rules alone do not see through (``xxd -p``, ``gzip | base64``, ``xxd``,
# ``hexdump -C``, ``od -An -tx1`` and ``base32`` they now do: decode.py reads hex runs and dumps,
# base32 and base64 of compressed data, test_unpack_text.py)
BLIND = [
    "rev",
    "rot13",
    "spaced",
    "interleaved",
    "u-escapes",
    "char-codes",
    "url",
    "od-c",
]


@pytest.mark.parametrize("name", BLIND)
def test_scanner_alone_misses_the_transform(name: str) -> None:
    """The control: without known values these outputs carry a secret past the gate."""
    red = Redactor(load_scanner()).redact(transformed(TRANSFORMS[name])).text
    assert recoverable(red), f"{name}: the rules alone already catch it; not a control"


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_known_values_are_redacted_in_every_transform(name: str) -> None:
    out = transformed(TRANSFORMS[name])
    red = redactor_knowing(SECRET, LETTERS).redact(out).text
    assert "<secret:" in red, f"{name}: nothing redacted"
    assert recoverable(red) == [], f"{name}: a known value is still recoverable"


def test_ordinary_text_around_a_reversed_secret_survives() -> None:
    out = transformed("rev")
    red = redactor_knowing(SECRET, LETTERS).redact(out).text
    assert "enil yranidro tsrif" in red and "enil yranidro tsal" in red
    assert SECRET[::-1] not in red and LETTERS[::-1] not in red


def test_base64_over_64_kib_and_nested_three_deep() -> None:
    big = "x" * 100_000 + FILE
    inner = base64.b64encode(big.encode())
    nested = base64.b64encode(base64.b64encode(inner)).decode()
    red = redactor_knowing(SECRET).redact(f"prefix {nested} suffix").text
    assert red.startswith("prefix <secret:") and red.endswith(" suffix")


def test_short_values_are_not_tracked_and_prose_is_left_alone() -> None:
    k = KnownValues()
    assert not k.add("admin", "t")  # five letters would match ordinary prose
    assert k.add("hunter22", "t")
    assert k.find("the hunter went home; 22 birds") == []
    assert all(len(v) >= 6 for v in variants("hunter22"))


def test_a_value_found_in_the_prompt_is_known_for_later_texts() -> None:
    r = Redactor(load_scanner())
    r.redact(f"my key is aws_secret_access_key = {SECRET}")
    assert r.redact(SECRET[::-1]).text.startswith("<secret:")


def test_workspace_secrets_are_learned_before_command_output_is_gated(tmp_path: Path) -> None:
    (tmp_path / "settings.env").write_text(FILE)
    scanner = load_scanner()
    learner = WorkspaceSecrets(tmp_path, scanner)
    gate = Gate(Redactor(scanner, learner=learner), host="h", url="https://h/v1")
    rev = transformed("rev")
    body = {"messages": [{"role": "tool", "content": rev}]}
    sent = gate.prepare(body).body.decode()
    assert SECRET[::-1] not in sent and LETTERS[::-1] not in sent
    assert "enil yranidro tsrif" in sent
    # a file that gains a secret later is rescanned (its size/mtime changed) before the next request
    (tmp_path / "later.txt").write_text("token = ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi\n")
    late = gate.prepare({"messages": [{"role": "tool", "content": "ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi"[::-1]}]})
    assert "iW8aU4eG0jF5dH7sY2pM9bV3cK6xL1zQ8wR4nT_phg" not in late.body.decode()
    assert learner.refresh() == []  # nothing changed: nothing rescanned


def test_gate_without_learning_lets_the_reversed_file_through(tmp_path: Path) -> None:
    """The control for the test above: the same body through a gate that learns nothing leaks."""
    gate = Gate(Redactor(load_scanner()), host="h", url="https://h/v1")
    sent = gate.prepare({"messages": [{"role": "tool", "content": transformed("rev")}]}).body.decode()
    assert LETTERS[::-1] in sent


def test_a_later_session_rereads_only_changed_files_and_those_with_secrets(tmp_path: Path) -> None:
    ws, cache = tmp_path / "ws", tmp_path / "home" / "cache"
    ws.mkdir()
    (ws / "settings.env").write_text(FILE)
    for i in range(5):
        (ws / f"clean{i}.txt").write_text(f"nothing here {i}\n")
    scanner = load_scanner()
    first = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    assert {v for v, _ in first.refresh()} >= {SECRET, LETTERS}
    assert first.files_scanned == 6
    assert not any(SECRET.encode() in p.read_bytes() or LETTERS.encode() in p.read_bytes() for p in cache.iterdir())
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in cache.iterdir())
    (ws / "clean0.txt").write_text("changed, and now a token: ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi\n")
    second = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    values = {v for v, _ in second.refresh()}
    assert {SECRET, LETTERS, "ghp_Tn4Rw8Qz1Lx6Kc3Vb9Mp2Ys7Hd5Fj0Ge4Ua8Wi"} <= values
    assert second.files_scanned == 2  # the secret file (values learned afresh) and the changed one
    other_rules = WorkspaceSecrets(ws, load_scanner(allowlist=("x",)), background=True, cache_dir=cache)
    other_rules.refresh()
    assert other_rules.files_scanned == 6  # another rule set: nothing reused


def test_a_walk_done_in_the_foreground_is_cached_too(tmp_path: Path) -> None:
    """``codeward sandbox`` walks without a background thread: its next run must not rescan clean files."""
    ws, cache = tmp_path / "ws", tmp_path / "home" / "cache"
    ws.mkdir()
    (ws / "settings.env").write_text(FILE)
    for i in range(5):
        (ws / f"clean{i}.txt").write_text(f"nothing here {i}\n")
    scanner = load_scanner()
    WorkspaceSecrets(ws, scanner, cache_dir=cache).refresh()
    second = WorkspaceSecrets(ws, scanner, cache_dir=cache)
    second.refresh()
    assert second.files_scanned == 1  # only the file with secrets is read again


AWS40 = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
GHP = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
PARTS = {
    "cut-c3": f"prod: {AWS40[2:]}\n",
    "no-prefix": f"other: {GHP[4:]}\n",
    "middle-16": f"x {AWS40[10:26]} y",
    "reversed-part": GHP[4:30][::-1],
    "hex-part": AWS40[3:30].encode().hex(),
    "base64-part": base64.b64encode(f"zz{GHP[6:34]}".encode()).decode(),
    "spaced-part": " ".join(AWS40[5:30]),
}


@pytest.mark.parametrize("name", sorted(PARTS))
def test_a_part_of_a_long_known_value_is_found(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import codeward.privacy.known as known

    text = PARTS[name]
    k = KnownValues()
    k.add_all([(AWS40, "aws"), (GHP, "github-pat")])
    assert k.find(text), f"{name}: the part was not found"
    # the control: the whole value's variants alone (what was tracked before) miss the part
    monkeypatch.setattr(known, "window_variants", lambda value: set())
    bare = KnownValues()
    bare.add_all([(AWS40, "aws"), (GHP, "github-pat")])
    assert bare.find(text) == []


def test_the_whole_part_present_is_redacted_not_only_a_window() -> None:
    r = redactor_knowing(AWS40)
    out = r.redact(f"value: {AWS40[3:]} end").text
    assert out.startswith("value: <secret:") and out.endswith("> end")
    assert not any(AWS40[i : i + 6] in out for i in range(len(AWS40) - 5))


def test_parts_of_short_or_structural_values_are_not_tracked() -> None:
    from codeward.privacy.known import window_variants

    assert window_variants("Tr0ub4dor-x9-abc") == set()  # under 20 characters: only the whole value
    k = KnownValues()
    k.add("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9Zx3Lk\n-----END RSA PRIVATE KEY-----", "pem")
    other = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAzzzz\n-----END RSA PRIVATE KEY-----"
    # the shared header and footer are structure, not the secret (a body sharing the key's ASN.1
    # prefix, ``MIIEowIBAAKCAQEA``, is another private key's: redacting it there is no loss)
    assert k.find(other) == []
    assert k.find("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9Zx3") != []


def test_parts_add_no_hit_on_ordinary_source_code() -> None:
    """0 false positives: the standard library's sources, with long values known, have no hit."""
    import sysconfig

    k = KnownValues()
    k.add_all([(AWS40, "aws"), (GHP, "github-pat"), ("postgres://app:Tr0ub4dor-x9@db.internal/prod", "url")])
    k.add("sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0", "openai")
    src = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(src.glob("*.py"))[:120]
    assert len(files) > 100
    hits = [p.name for p in files if k.find(p.read_text(encoding="utf-8", errors="replace"))]
    assert hits == []


def test_a_very_long_value_is_covered_whole_and_its_automaton_freed_in_a_thread() -> None:
    """Red team rt16: a whole base64 blob found as one secret made a 90 KiB known value, whose hex
    form was a 180 000-character key; pyahocorasick frees its trie one C frame per character, which
    overflowed a thread's stack (a segfault of the whole process). Run in a child process, so that
    the crash is this test's failure and not the suite's end."""
    import subprocess
    import sys

    code = (
        "import threading\n"
        "from codeward.privacy.known import KnownValues\n"
        "v = 'A' * 10 + 'b9' * 60000\n"
        "def run():\n"
        "    k = KnownValues()\n"
        "    k.add(v, 'blob')\n"
        "    text = 'before ' + v + ' after'\n"
        "    hits = k.find(text)\n"
        "    covered = set()\n"
        "    for h in hits:\n"
        "        covered.update(range(h.start, h.end))\n"
        "    assert set(range(7, 7 + len(v))) <= covered, 'not all of the value is covered'\n"
        "    assert 0 not in covered and len(text) - 1 not in covered\n"
        "    del k\n"
        "t = threading.Thread(target=run)\n"
        "t.start()\n"
        "t.join()\n"
        "print('done')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "done" in run.stdout, (run.returncode, run.stderr[-2000:])
