"""Encryption of Cronofy tokens at rest: AES-256-GCM with a key ring and bound associated data.

Each ciphertext is stored as ``{"kid", "n", "ct"}``. The associated data names the key id, the
collection, the document id and the field, so a ciphertext copied into another document (or into
another field of the same one) fails to decrypt instead of handing one user's token to another.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from bson.binary import Binary
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .domain.secrets import Secret

KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
NONCE_BYTES = 12


class KeyRingError(ValueError):
    """TOKEN_ENCRYPTION_KEYS is malformed; the message never contains key material."""


class DecryptionError(Exception):
    """The ciphertext is unknown to the key ring, tampered with, or bound to another place."""


@dataclass(frozen=True)
class KeyRing:
    active_kid: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """`KEY_ID:KEY[,KEY_ID:KEY...]`, KEY the URL-safe base64 of 32 bytes; the first encrypts."""
        keys: dict[str, bytes] = {}
        entries = [entry.strip() for entry in spec.split(",")]
        if not spec.strip() or not all(entries):
            raise KeyRingError("TOKEN_ENCRYPTION_KEYS: expected comma-separated KEY_ID:KEY entries")
        for position, entry in enumerate(entries, start=1):
            kid, sep, encoded = entry.partition(":")
            if not sep:
                raise KeyRingError(f"TOKEN_ENCRYPTION_KEYS entry {position}: expected KEY_ID:KEY")
            if not KEY_ID.match(kid):
                raise KeyRingError(f"TOKEN_ENCRYPTION_KEYS entry {position}: key id must match [A-Za-z0-9_-]{{1,32}}")
            if kid in keys:
                raise KeyRingError(f"TOKEN_ENCRYPTION_KEYS: key id {kid!r} appears twice")
            keys[kid] = _decode_key(encoded, kid)
        return cls(active_kid=entries[0].partition(":")[0], keys=keys)

    @classmethod
    def ephemeral(cls) -> KeyRing:
        return cls(active_kid="ephemeral", keys={"ephemeral": os.urandom(32)})


def _decode_key(encoded: str, kid: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise KeyRingError(f"TOKEN_ENCRYPTION_KEYS: key {kid!r} is not URL-safe base64") from None
    if len(key) != 32:
        raise KeyRingError(f"TOKEN_ENCRYPTION_KEYS: key {kid!r} must decode to 32 bytes, got {len(key)}")
    return key


def generate_key_entry(kid: str | None = None) -> str:
    """A new `KEY_ID:KEY` entry for TOKEN_ENCRYPTION_KEYS."""
    kid = kid or "k" + secrets.token_hex(4)
    if not KEY_ID.match(kid):
        raise KeyRingError("key id must match [A-Za-z0-9_-]{1,32}")
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"


def _associated_data(kid: str, collection: str, doc_id: object, field: str) -> bytes:
    return json.dumps(
        {"v": 1, "kid": kid, "c": collection, "id": str(doc_id), "f": field},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


class Ciphertext(TypedDict):
    """A token at rest: the key id, the nonce and the ciphertext (with its GCM tag)."""

    kid: str
    n: Binary
    ct: Binary


class Vault:
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._ciphers = {kid: AESGCM(key) for kid, key in ring.keys.items()}

    def encrypt(self, secret: Secret, *, collection: str, doc_id: object, field: str) -> Ciphertext:
        kid = self._ring.active_kid
        nonce = os.urandom(NONCE_BYTES)
        aad = _associated_data(kid, collection, doc_id, field)
        ciphertext = self._ciphers[kid].encrypt(nonce, secret.reveal().encode(), aad)
        return {"kid": kid, "n": Binary(nonce), "ct": Binary(ciphertext)}

    def decrypt(self, blob: Mapping[str, Any], *, collection: str, doc_id: object, field: str) -> Secret:
        try:
            kid = blob["kid"]
            cipher = self._ciphers[kid]
            aad = _associated_data(kid, collection, doc_id, field)
            return Secret(cipher.decrypt(bytes(blob["n"]), bytes(blob["ct"]), aad).decode())
        except (KeyError, TypeError, InvalidTag, UnicodeDecodeError):
            raise DecryptionError(f"cannot decrypt {collection}.{field} of document {doc_id}") from None

    @property
    def active_kid(self) -> str:
        return self._ring.active_kid
