"""Files an ignore rule names that are public by content: certificate bundles, never keys.

``*.pem`` (a built-in rule and the seed template's) also matches certifi's ``cacert.pem`` in a venv
and the CA files in ``node_modules``; hiding them breaks TLS for pip and requests even with the
network allowed. A PEM file whose every block is a certificate (each one a DER ``SEQUENCE`` of the
length it claims) and whose other lines are blank or certifi's ``# Issuer:``-style comments holds nothing secret; anything
else (a key, an unknown block, text, a fake block) stays hidden. Decided on content, not on place.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

CERT_SUFFIXES = (".pem", ".crt", ".cer")
MAX_BYTES = 4 << 20
_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)\r?\n-----END \1-----", re.S)
_PUBLIC_BLOCKS = {b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CRL"}
# the only comment lines allowed between blocks: the ones certifi and Mozilla's bundle carry (free
# text in a comment could be anything, so a file with other comments stays hidden)
_COMMENT = re.compile(rb"#\s*((Issuer|Subject|Label|Serial|MD5 Fingerprint|SHA1 Fingerprint|SHA256 Fingerprint):.*)?")


def _der_ok(body: bytes) -> bool:
    """The block decodes to exactly one DER SEQUENCE of the length it declares."""
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(der) < 2 or der[0] != 0x30:
        return False
    n = der[1]
    if n < 0x80:
        return len(der) == 2 + n
    k = n & 0x7F
    if k == 0 or k > 4 or len(der) < 2 + k:
        return False
    return len(der) == 2 + k + int.from_bytes(der[2 : 2 + k], "big")


def is_public_certificate_file(data: bytes) -> bool:
    """True when ``data`` is only certificates (and CRLs), blank lines and certifi-style comments."""
    if b"PRIVATE" in data or b"\0" in data:
        return False
    found = False
    rest = bytearray()
    pos = 0
    for m in _BLOCK.finditer(data):
        if m.group(1) not in _PUBLIC_BLOCKS or not _der_ok(m.group(2)):
            return False
        rest += data[pos : m.start()]
        pos = m.end()
        found = True
    rest += data[pos:]
    for line in bytes(rest).splitlines():
        s = line.strip()
        if s and not _COMMENT.fullmatch(s):
            return False
    return found


def is_public_file(p: Path, *, ident: tuple[int, int] | None = None) -> bool:
    """True for a regular certificate file (by name and content) that may stay readable; with
    ``ident``, only when ``p`` is that file (device, inode)."""
    if not p.name.lower().endswith(CERT_SUFFIXES):
        return False
    import os
    import stat

    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return False
        if ident is not None and (st.st_dev, st.st_ino) != ident:
            return False
        with os.fdopen(fd, "rb", closefd=False) as f:
            return is_public_certificate_file(f.read(MAX_BYTES + 1))
    finally:
        os.close(fd)
