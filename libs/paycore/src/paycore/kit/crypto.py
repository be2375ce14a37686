"""Customer PII at rest: AES-256-GCM under a key ring, and a keyed hash for look-ups.

The ring has one current key (new values are sealed with it) and any number of older keys
(kept only to open what they sealed); every sealed value names its key id. The look-up hash
has its own key, so rotating the encryption key changes no hash: look-ups by email or phone
keep finding old documents. `python -m payments_api.rekey` moves old values to the current key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

if TYPE_CHECKING:
    from paycore.kit.settings import EncryptionSettings


class Sealed(BaseModel):
    """An encrypted value: which key, the nonce and the ciphertext (with its tag)."""

    key_id: str
    nonce: str
    ciphertext: str


class UnknownKey(Exception):
    """A value was sealed with a key id that is not in the ring (an old key was dropped too
    early: put it back in `PAYMENT_ENCRYPTION_OLD_KEYS`)."""


def legacy_lookup_key(encryption_key: bytes) -> bytes:
    """The look-up key of deployments before `PAYMENT_LOOKUP_KEY` existed: derived from the
    encryption key. Setting `PAYMENT_LOOKUP_KEY` to its base64 keeps their hashes."""
    return hashlib.sha256(b"paycore-lookup:" + encryption_key).digest()


class FieldCipher:
    def __init__(
        self, keys: Mapping[str, bytes], current_key_id: str, lookup_key: bytes | None = None
    ) -> None:
        """`keys`: key id → 32-byte AES key; `lookup_key`: the HMAC key of `lookup_hash`
        (default: derived from the current key, as before key rings)."""
        if current_key_id not in keys:
            raise ValueError(f"no key {current_key_id!r}")
        # One AEAD per key, built once: building it costs as much as sealing a short value.
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current_key_id
        self._hash_key = lookup_key or legacy_lookup_key(keys[current_key_id])

    @property
    def current_key_id(self) -> str:
        return self._current

    def seal(self, plaintext: str, context: str) -> Sealed:
        """Encrypts `plaintext` with the current key; `context` (e.g. the field name) is
        authenticated, not stored."""
        nonce = os.urandom(12)
        ciphertext = self._aeads[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return Sealed(
            key_id=self._current,
            nonce=base64.b64encode(nonce).decode(),
            ciphertext=base64.b64encode(ciphertext).decode(),
        )

    def open(self, sealed: Sealed, context: str) -> str:
        """Decrypts with the key the value names; raises `UnknownKey` if the ring lacks it and
        `cryptography.exceptions.InvalidTag` if the value or its context was tampered with."""
        aead = self._aeads.get(sealed.key_id)
        if aead is None:
            raise UnknownKey(sealed.key_id)
        plaintext = aead.decrypt(
            base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), context.encode()
        )
        return plaintext.decode()

    def reseal(self, sealed: Sealed, context: str) -> Sealed | None:
        """The value sealed again with the current key, or None if it already is."""
        if sealed.key_id == self._current:
            return None
        return self.seal(self.open(sealed, context), context)

    def lookup_hash(self, value: str) -> str:
        """A stable keyed hash of the normalised value, for equality look-ups."""
        normalised = value.strip().lower()
        return hmac.new(self._hash_key, normalised.encode(), hashlib.sha256).hexdigest()


def cipher_from(
    key: bytes,
    key_id: str,
    *,
    old_keys: Mapping[str, bytes] | None = None,
    lookup_key: bytes | None = None,
) -> FieldCipher:
    """A cipher whose current key is `key` (named `key_id`), opening `old_keys` too. Seal and
    open with the field's dotted path as `context` (`"customer.email"`, `"customer.phone"`,
    `"invoice.client.email"`), so a value sealed for one field can't be passed off as another."""
    return FieldCipher({**(old_keys or {}), key_id: key}, key_id, lookup_key)


def cipher_for(settings: EncryptionSettings) -> FieldCipher:
    """The cipher of `PAYMENT_ENCRYPTION_KEY(_ID)`, `PAYMENT_ENCRYPTION_OLD_KEYS` and
    `PAYMENT_LOOKUP_KEY`."""
    return cipher_from(
        settings.encryption_key,
        settings.payment_encryption_key_id,
        old_keys=settings.old_encryption_keys,
        lookup_key=settings.lookup_key,
    )
