"""The workspace scan reads binary and UTF-16/32 files the way a command would (red team rt1).

The scan used to skip every file with a NUL in its first 8 KiB, and the redacted view showed such a
file as it is: a UTF-16 settings file, the ``.pyc`` beside a redacted ``settings.py``, a gzip or
zip of a config, an executable with a token inside. Each case below is first shown to be what the
old sniff called binary (the control: it was never scanned), then to be scanned now: UTF-16 text is
redacted in its own encoding, a binary's secret makes it hidden.
"""

from __future__ import annotations

import gzip
import io
import os
import py_compile
import zipfile
from pathlib import Path

import pytest

from codeward.privacy.contents import contents, streamed_strings
from codeward.privacy.learn import WorkspaceSecrets
from codeward.privacy.redact import Redactor
from codeward.privacy.scanner import load_scanner
from codeward.sandbox.redacted_view import prepare
from codeward.textenc import detect, printable_strings

TOK = "ghp_Q7mK2vX9pL4rT8wZ1nB6cJ3hF5dS0aYeUiOg"
AWS = "Hs8Dk2Lq9Wz4Xc7Vb1Nm5Tr3Yp6Gf0Ju2Ei8Oa4"
CONF = f"# app settings\naws_secret_access_key = {AWS}\nGITHUB_TOKEN={TOK}\nregion = eu-west-1\n"


def _zip(name: str, text: str, method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        z.writestr(name, text)
    return buf.getvalue()


def _pyc(tmp: Path) -> bytes:
    src = tmp / "settings_src.py"
    src.write_text(f'AWS_SECRET_ACCESS_KEY = "{AWS}"\nGITHUB_TOKEN = "{TOK}"\n')
    return Path(py_compile.compile(str(src), cfile=str(tmp / "settings.pyc"))).read_bytes()


def _sqlite(tmp: Path) -> bytes:
    """A row whose cells SQLite packs together: ``githubghp_...`` in the page, no boundary for a rule."""
    import sqlite3

    path = tmp / "dev.sqlite3"
    db = sqlite3.connect(path)
    db.execute("create table creds(k text, v text)")
    db.execute("insert into creds values ('aws_secret_access_key', ?), ('github', ?)", (AWS, TOK))
    db.commit()
    db.close()
    data = path.read_bytes()
    assert not any(load_scanner().scan(t, path="x") for t in ["\n".join(printable_strings(data))])  # strings miss it
    return data


FILES = {
    "sqlite": _sqlite,
    "utf16-bom": lambda tmp: CONF.encode("utf-16"),
    "utf16-le-no-bom": lambda tmp: CONF.encode("utf-16-le"),
    "utf16-be": lambda tmp: CONF.encode("utf-16"),
    "utf32": lambda tmp: CONF.encode("utf-32"),
    "elf-with-token": lambda tmp: b"\x7fELF\x02\x01\x01\0" + b"\0" * 100 + f"\ntoken={TOK}\n".encode() + b"\0" * 50,
    "utf16-strings-in-binary": lambda tmp: b"MZ\0\0" + b"\0" * 64 + f"GITHUB_TOKEN={TOK}".encode("utf-16-le") + b"\0\0",
    "gzip": lambda tmp: gzip.compress(CONF.encode()),
    "zip-deflated": lambda tmp: _zip("app.conf", CONF, zipfile.ZIP_DEFLATED),
    "zip-stored": lambda tmp: _zip("app.conf", CONF, zipfile.ZIP_STORED),
    "tar-gz": lambda tmp: gzip.compress(b"app.conf" + b"\0" * 92 + b"0000644\0" + b"\0" * 400 + CONF.encode()),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_old_sniff_skipped_it_and_the_scan_now_finds_the_secret(tmp_path: Path, name: str) -> None:
    data = FILES[name](tmp_path)
    assert b"\0" in data[:8192], "control: the old scan skipped a file only when it had a NUL"
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "f.bin").write_bytes(data)
    learner = WorkspaceSecrets(ws, load_scanner())
    values = {v for v, _ in learner.refresh()}
    assert TOK in values
    assert learner.secret_paths() == {str(ws / "f.bin")}


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-8"])
def test_text_in_any_unicode_encoding_is_redacted_in_that_encoding(tmp_path: Path, codec: str) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    f = ws / "settings.txt"
    f.write_bytes(CONF.encode(codec))
    scanner = load_scanner()
    red = Redactor(scanner, learner=WorkspaceSecrets(ws, scanner))
    red.refresh()
    plan = prepare(home, ws, red.learner.secret_paths(), lambda t, rel: red.redact(t, path=rel).text)  # type: ignore[union-attr]
    try:
        assert plan.hidden == ()
        [(_host, copy)] = plan.redacted
        shown = copy.read_bytes()
        text = shown.decode(detect(shown) or "latin-1")
        assert shown.startswith(CONF.encode(codec)[:2])  # the byte-order mark (or the first bytes) kept
        assert "region = eu-west-1" in text and text.count("<secret:") == 2
        assert AWS not in text and TOK not in text
    finally:
        plan.remove()


@pytest.mark.parametrize("name", ["elf-with-token", "gzip", "zip-deflated", "sqlite"])
def test_a_binary_holding_a_secret_is_hidden_not_shown(tmp_path: Path, name: str) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    (ws / "f.bin").write_bytes(FILES[name](tmp_path))
    scanner = load_scanner()
    learner = WorkspaceSecrets(ws, scanner)
    learner.refresh()
    plan = prepare(home, ws, learner.secret_paths(), lambda t, rel: t)
    try:
        assert plan.redacted == () and plan.hidden == (ws / "f.bin",)
    finally:
        plan.remove()


def test_a_pyc_beside_its_source_is_hidden_by_the_values_the_source_holds(tmp_path: Path) -> None:
    """In a ``.pyc`` the constants run into their type bytes (``(ghp_...N)``), so no rule's boundary
    holds there; the values its ``settings.py`` holds are known, and the sweep for them marks it."""
    ws, home = tmp_path / "ws", tmp_path / "home"
    (ws / "__pycache__").mkdir(parents=True)
    (ws / "settings.py").write_text(f'AWS_SECRET_ACCESS_KEY = "{AWS}"\nGITHUB_TOKEN = "{TOK}"\n')
    pyc = ws / "__pycache__" / "settings.cpython-311.pyc"
    pyc.write_bytes(_pyc(tmp_path))
    scanner = load_scanner()
    assert not any(scanner.scan(t, path="x.pyc") for t in contents(pyc.read_bytes()).texts)  # rules alone miss it
    red = Redactor(scanner, learner=WorkspaceSecrets(ws, scanner))
    red.refresh()
    learner = red.learner
    learner.sweep(red.known.items())  # type: ignore[union-attr]
    plan = prepare(home, ws, learner.secret_paths(), lambda t, rel: red.redact(t, path=rel).text)  # type: ignore[union-attr]
    try:
        assert plan.hidden == (pyc,)
        assert [h for h, _ in plan.redacted] == [ws / "settings.py"]
    finally:
        plan.remove()


def test_binaries_without_secrets_are_left_alone(tmp_path: Path) -> None:
    """A venv's libraries must stay usable: a binary is marked only when its strings hold a secret
    of 16 characters or more (``ruff`` embeds its docs, with ``password="hunter2"`` in them)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "lib.so").write_bytes(b"\x7fELF" + b"\0" * 64 + b"PyInit_module\0libc.so.6\0GLIBC_2.2.5\0" * 50)
    (ws / "ruff").write_bytes(b"\x7fELF" + b"\0" * 64 + b'connect_to_server(password="hunter2")\0')
    (ws / "clean.gz").write_bytes(gzip.compress(b"nothing secret here\n" * 100))
    (ws / "notes.txt").write_bytes("plain notes, no secret\n".encode("utf-16"))
    learner = WorkspaceSecrets(ws, load_scanner())
    assert learner.refresh() == []
    assert learner.secret_paths() == set()


def test_detection_tells_utf16_text_from_binary() -> None:
    assert detect("héllo wörld\n".encode("utf-16-le") * 10) == "utf-16-le"
    assert detect("hello\n".encode("utf-16-be") * 10) == "utf-16-be"
    assert detect("hello\n".encode("utf-32-le") * 10) == "utf-32-le"
    assert detect(b"plain ascii") == "utf-8"
    assert detect(bytes(range(256)) * 4) is None
    assert detect(b"\x7fELF" + b"\0" * 200) is None


def test_strings_ascii_and_utf16_runs_of_eight() -> None:
    data = b"\0short\0" + b"\x01long enough run\x02" + "wide string here".encode("utf-16-le") + b"\xff"
    assert printable_strings(data) == ["long enough run", "wide string here"]


def test_a_zip_bomb_costs_no_more_than_the_budget_and_is_hidden() -> None:
    """Unpacking stops at the budget, and the file is unscannable (hidden), not let through with its
    tail unread (issue 11: a secret after 8 MiB of zeros)."""
    from codeward.privacy.contents import MAX_INFLATED

    bomb = gzip.compress(b"\0" * (MAX_INFLATED * 4))
    c = contents(bomb)
    assert c.binary and sum(len(t) for t in c.texts) <= MAX_INFLATED
    assert c.unscannable is not None and "more than 8 MiB" in c.unscannable


def test_large_binaries_are_read_in_blocks_without_losing_a_run_at_a_block_edge() -> None:
    from codeward.privacy import contents as mod

    block = mod.CHUNK
    data = b"\0" * (block - 10) + f"token={TOK}".encode() + b"\0" * 100
    texts = list(streamed_strings(io.BytesIO(data), len(data)))
    assert any(f"token={TOK}" in t for t in texts)


def test_a_part_of_a_known_value_does_not_hide_a_binary(tmp_path: Path) -> None:
    """A scanner finding in a library's source (``x25519.X25519PrivateKey``) is a known value; its
    16-character window ``X25519PrivateKey`` also sits in the compiled library, which must stay
    usable. The whole value in a binary still hides it."""
    ws = tmp_path / "ws"
    ws.mkdir()
    value = "Zx9Qw3Er7Ty1Ui5Op2As8Df4"
    (ws / "lib.so").write_bytes(b"\x7fELF" + b"\0" * 64 + f"sym_{value[2:20]}_end".encode() + b"\0")
    (ws / "data.bin").write_bytes(b"\x7fELF" + b"\0" * 64 + f"k={value}".encode() + b"\0")
    learner = WorkspaceSecrets(ws, load_scanner())
    learner.refresh()
    learner.sweep([(value, "test")])
    assert learner.secret_paths() == {str(ws / "data.bin")}


def test_a_clean_cache_from_before_binaries_were_read_is_not_reused(tmp_path: Path) -> None:
    """The old scan recorded a skipped binary among the clean files; a later session must not trust
    that record, or the binary would never be read."""
    import json

    from codeward.privacy import clean_cache, tree_walk

    ws, cache = tmp_path / "ws", tmp_path / "cache"
    ws.mkdir()
    blob = ws / "blob.bin"
    blob.write_bytes(FILES["elf-with-token"](tmp_path))
    scanner = load_scanner()
    first = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    first.refresh()
    cache_file = first._cache.path
    assert cache_file is not None
    st = blob.stat()
    old = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
    cache_file.with_suffix(".json").write_text(json.dumps({"version": 1, "clean": {str(blob): old}}))
    again = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    assert TOK in {v for v, _ in again.refresh()}
    # the control: the same record in the current format is trusted (the file is not read again)
    stamp = tree_walk.stamp_of(os.lstat(blob))
    key = clean_cache.cache_key(cache, create=False)
    clean_cache.save(cache_file, key, first._cache.binding, clean_cache.Cached({str(blob): stamp}))
    trusting = WorkspaceSecrets(ws, scanner, background=True, cache_dir=cache)
    assert trusting.refresh() == []


@pytest.mark.parametrize("where", ["utf16-tail-after-text", "ascii-tail-after-utf16"])
def test_a_file_mixing_encodings_shows_no_secret(tmp_path: Path, where: str) -> None:
    """A first block in one encoding, the secret in another after it: UTF-8 text followed by UTF-16
    (read as UTF-8 the value is ``g\\0h\\0p\\0_...``), or UTF-16 text followed by raw ASCII (read as
    UTF-16 the value is CJK characters). Both are hidden: no one encoding's copy would be clean."""
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    filler = "ordinary line of text\n" * 600  # past the 8 KiB sniff
    if where == "utf16-tail-after-text":
        data = filler.encode() + CONF.encode("utf-16-le")
    else:
        data = filler.encode("utf-16-le") + f"\ntoken={TOK}\n".encode()
    f = ws / "mixed.txt"
    f.write_bytes(data)
    scanner = load_scanner()
    red = Redactor(scanner, learner=WorkspaceSecrets(ws, scanner))
    red.refresh()
    paths = red.learner.secret_paths()  # type: ignore[union-attr]
    assert paths == {str(f)}
    plan = prepare(home, ws, paths, lambda t, rel: red.redact(t, path=rel).text)
    try:
        assert plan.hidden == (f,) and plan.redacted == ()
    finally:
        plan.remove()
