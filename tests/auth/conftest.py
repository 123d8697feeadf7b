from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from tests.support.keyring_backend import MemoryKeyring


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The system keychain replaced by a dict for this test (restored afterwards)."""
    before = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


@pytest.fixture
def use_keyring() -> Iterator[object]:
    """Install any backend instance for this test: ``use_keyring(LossyKeyring())``."""
    before = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(before)


@pytest.fixture
def fail_keyring(use_keyring) -> None:  # type: ignore[no-untyped-def]
    """keyring's own "no backend" backend, as on a headless machine."""
    import keyring.backends.fail

    use_keyring(keyring.backends.fail.Keyring())
