"""Certificate bundles stay usable under ``*.pem`` rules; keys, fakes and annotated files stay hidden."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.sandbox_helpers import Project, one_cert

from codeward.sandbox.public_files import is_public_certificate_file, is_public_file


def test_content_rules() -> None:
    cert = one_cert()
    certifi_style = b'\n# Issuer: CN=Example Root\n# Label: "Example"\n# SHA256 Fingerprint: 00:11\n' + cert
    assert is_public_certificate_file(cert * 3)
    assert is_public_certificate_file(certifi_style)
    key = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    assert not is_public_certificate_file(cert + key)
    assert not is_public_certificate_file(b"-----BEGIN EC PRIVATE KEY-----\nMHc=\n-----END EC PRIVATE KEY-----\n")
    assert not is_public_certificate_file(cert + b"# password: hunter2\n")  # free text rides along
    assert not is_public_certificate_file(cert + b"DB_PASSWORD=x\n")
    fake = base64.encodebytes(b"sk-proj-secret-smuggled-in-a-block").replace(b"\n", b"")
    assert not is_public_certificate_file(b"-----BEGIN CERTIFICATE-----\n" + fake + b"\n-----END CERTIFICATE-----\n")
    assert not is_public_certificate_file(b"")
    assert not is_public_certificate_file(b"just text\n")


def test_only_regular_certificate_files(tmp_path: Path) -> None:
    cert = one_cert()
    (tmp_path / "ca.pem").write_bytes(cert)
    (tmp_path / "ca.txt").write_bytes(cert)
    (tmp_path / "link.pem").symlink_to(tmp_path / "ca.pem")
    assert is_public_file(tmp_path / "ca.pem")
    assert not is_public_file(tmp_path / "ca.txt")  # not a name a *.pem-style rule hides anyway
    assert not is_public_file(tmp_path / "link.pem")


@pytest.mark.sandbox
def test_venv_ca_bundle_readable_private_key_hidden(sandbox: Any, project: Project) -> None:
    """The issue's case: certifi's bundle in a workspace venv under the built-in ``*.pem`` rule."""
    cert = one_cert()
    certifi = project.root / ".venv" / "lib" / "python3" / "site-packages" / "certifi" / "cacert.pem"
    certifi.parent.mkdir(parents=True)
    certifi.write_bytes(b"\n# Issuer: CN=Example\n" + cert + cert)
    key = project.root / "deploy" / "tls.pem"
    key.parent.mkdir()
    key.write_bytes(cert + b"-----BEGIN PRIVATE KEY-----\nCWMARK-tlskey\n-----END PRIVATE KEY-----\n")
    subprocess.run(["git", "add", "-A"], cwd=project.root, capture_output=True, check=False)
    probe = (
        f"python3 -c \"import ssl; c = ssl.create_default_context(cafile='{certifi}'); "
        "print('loaded', len(c.get_ca_certs()))\"; cat deploy/tls.pem; true"
    )
    masked = project.spec().masked
    assert any(certifi == m or m in certifi.parents for m in masked)  # the *.pem rule does name it
    r = project.run(sandbox, probe)
    assert "loaded 1" in r.output  # the same certificate twice counts once
    assert "CWMARK-tlskey" not in r.output
