"""Customer PII at rest: AES-256-GCM with a key id for rotation, and a keyed hash for look-ups."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel


class Sealed(BaseModel):
    """An encrypted value: which key, the nonce and the ciphertext (with its tag)."""

    key_id: str
    nonce: str
    ciphertext: str


class FieldCipher:
    def __init__(self, keys: dict[str, bytes], current_key_id: str) -> None:
        if current_key_id not in keys:
            raise ValueError(f"no key {current_key_id!r}")
        self._keys = keys
        self._current = current_key_id
        # A separate key for hashing, so a hash never reveals anything about the cipher key.
        self._hash_key = hashlib.sha256(b"paycore-lookup:" + keys[current_key_id]).digest()

    def seal(self, plaintext: str, context: str) -> Sealed:
        """Encrypts `plaintext`; `context` (e.g. the field name) is authenticated, not stored."""
        nonce = os.urandom(12)
        ciphertext = AESGCM(self._keys[self._current]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return Sealed(
            key_id=self._current,
            nonce=base64.b64encode(nonce).decode(),
            ciphertext=base64.b64encode(ciphertext).decode(),
        )

    def open(self, sealed: Sealed, context: str) -> str:
        key = self._keys[sealed.key_id]
        plaintext = AESGCM(key).decrypt(
            base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), context.encode()
        )
        return plaintext.decode()

    def lookup_hash(self, value: str) -> str:
        """A stable keyed hash of the normalised value, for equality look-ups."""
        normalised = value.strip().lower()
        return hmac.new(self._hash_key, normalised.encode(), hashlib.sha256).hexdigest()


def cipher_from(key: bytes, key_id: str) -> FieldCipher:
    """The cipher for `PAYMENT_ENCRYPTION_KEY` (`EncryptionSettings.encryption_key` and
    `.payment_encryption_key_id`). Seal and open with the field's dotted path as `context`
    (`"customer.email"`, `"customer.phone"`, `"invoice.client.email"`), so a value sealed for
    one field can't be passed off as another."""
    return FieldCipher({key_id: key}, key_id)
