"""The keychain adapter: which backends count as usable, and store/read/delete through them."""

from __future__ import annotations

import keyring.backends.fail
import keyring.backends.null
import pytest
from tests.support.keyring_backend import BrokenKeyring, LossyKeyring

from codeward.auth import keychain


def test_fail_backend_is_not_usable(fail_keyring: None) -> None:
    b = keychain.backend()
    assert b.name == "keyring.backends.fail.Keyring"
    assert not b.usable
    assert "no keychain backend" in b.reason


def test_null_backend_is_not_usable_because_it_would_drop_the_key(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(keyring.backends.null.Keyring())
    assert not keychain.backend().usable
    with pytest.raises(keychain.KeychainUnavailable):
        keychain.store_key("openai", "sk-abcdefgh12345678")


def test_store_read_delete_round_trip(memory_keyring) -> None:  # type: ignore[no-untyped-def]
    name = keychain.store_key("openai", "sk-abcdefgh12345678")
    assert name.endswith("MemoryKeyring")
    assert memory_keyring.store[("codeward", "openai")] == "sk-abcdefgh12345678"
    assert keychain.read_key("openai") == ("sk-abcdefgh12345678", name)
    assert keychain.delete_key("openai") is True
    assert keychain.delete_key("openai") is False
    assert keychain.read_key("openai") == (None, name)


def test_a_backend_that_forgets_the_key_is_refused(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(LossyKeyring())
    with pytest.raises(keychain.KeychainUnavailable, match="did not return it"):
        keychain.store_key("openai", "sk-abcdefgh12345678")


def test_a_locked_keychain_is_an_error_without_the_key(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(BrokenKeyring())
    with pytest.raises(keychain.KeychainUnavailable) as e:
        keychain.store_key("openai", "sk-abcdefgh12345678")
    assert "KeyringLocked" in e.value.message
    assert "sk-abcdefgh12345678" not in e.value.message
    assert keychain.read_key("openai") == (None, None)
    assert keychain.delete_key("openai") is False
