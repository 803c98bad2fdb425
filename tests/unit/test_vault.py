"""AES-256-GCM token encryption: round trip, wrong key, tampering, moved ciphertexts, rotation."""

from __future__ import annotations

import base64
import json
import os

import pytest
from bson import ObjectId
from bson.binary import Binary

from gql_api.vault import DecryptionError, KeyRing, KeyRingError, Secret, Vault, generate_key_entry

TOKEN = Secret("P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI")
WHERE = {"collection": "calendar_connections", "doc_id": ObjectId("650000000000000000000001"), "field": "refresh_token"}


def key_entry(kid: str) -> str:
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


def test_round_trip_and_fresh_nonce_each_time():
    vault = Vault(KeyRing.parse(key_entry("k1")))
    first, second = vault.encrypt(TOKEN, **WHERE), vault.encrypt(TOKEN, **WHERE)
    assert vault.decrypt(first, **WHERE) == TOKEN
    assert first["kid"] == "k1"
    assert first["ct"] != second["ct"] and first["n"] != second["n"]
    assert TOKEN.reveal().encode() not in bytes(first["ct"])


def test_wrong_key_does_not_decrypt():
    blob = Vault(KeyRing.parse(key_entry("k1"))).encrypt(TOKEN, **WHERE)
    with pytest.raises(DecryptionError):
        Vault(KeyRing.parse(key_entry("k1"))).decrypt(blob, **WHERE)  # same id, other key material
    with pytest.raises(DecryptionError):
        Vault(KeyRing.parse(key_entry("k2"))).decrypt(blob, **WHERE)  # key id unknown to the ring


def test_tampered_ciphertext_nonce_or_key_id_does_not_decrypt():
    vault = Vault(KeyRing.parse(f"{key_entry('k2')},{key_entry('k1')}"))
    blob = vault.encrypt(TOKEN, **WHERE)
    flipped = bytearray(blob["ct"])
    flipped[0] ^= 1
    for tampered in (
        {**blob, "ct": Binary(bytes(flipped))},
        {**blob, "n": Binary(os.urandom(12))},
        {**blob, "kid": "k1"},
        {**blob, "ct": Binary(bytes(blob["ct"])[:-1])},
        {"kid": "k2"},
        {},
    ):
        with pytest.raises(DecryptionError):
            vault.decrypt(tampered, **WHERE)


def test_ciphertext_moved_to_another_document_or_field_does_not_decrypt():
    vault = Vault(KeyRing.ephemeral())
    blob = vault.encrypt(TOKEN, **WHERE)
    with pytest.raises(DecryptionError):
        vault.decrypt(blob, **{**WHERE, "doc_id": ObjectId("650000000000000000000002")})
    with pytest.raises(DecryptionError):
        vault.decrypt(blob, **{**WHERE, "field": "access_token"})
    with pytest.raises(DecryptionError):
        vault.decrypt(blob, **{**WHERE, "collection": "pending_revocations"})


def test_rotation_old_key_still_decrypts_new_key_encrypts():
    old_entry, new_entry = key_entry("old"), key_entry("new")
    blob = Vault(KeyRing.parse(old_entry)).encrypt(TOKEN, **WHERE)

    rotated = Vault(KeyRing.parse(f"{new_entry},{old_entry}"))

    assert rotated.decrypt(blob, **WHERE) == TOKEN
    assert blob["kid"] != rotated.active_kid  # still under the old key: rotate-keys rewrites it
    fresh = rotated.encrypt(TOKEN, **WHERE)
    assert fresh["kid"] == "new" == rotated.active_kid
    with pytest.raises(DecryptionError):
        Vault(KeyRing.parse(old_entry)).decrypt(fresh, **WHERE)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "comma-separated"),
        ("k1", "KEY_ID:KEY"),
        ("k1:", "32 bytes"),
        ("k1:not base64!!", "base64"),
        (f"k1:{base64.urlsafe_b64encode(bytes(range(16))).decode()}", "32 bytes, got 16"),
        (f"bad id:{base64.urlsafe_b64encode(bytes(range(32))).decode()}", "key id"),
        (f"{'k' * 33}:{base64.urlsafe_b64encode(bytes(range(32))).decode()}", "key id"),
        (
            "k1:"
            + base64.urlsafe_b64encode(bytes(range(32))).decode()
            + ",k1:"
            + base64.urlsafe_b64encode(bytes(range(32))).decode(),
            "twice",
        ),
        ("k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode() + ",", "comma-separated"),
    ],
)
def test_malformed_key_rings_are_refused_without_echoing_key_material(spec, message):
    with pytest.raises(KeyRingError, match=message) as raised:
        KeyRing.parse(spec)
    key_part = spec.partition(":")[2]
    if len(key_part) > 8:
        assert key_part[:20] not in str(raised.value)


def test_keys_with_or_without_padding_and_generated_entries_parse():
    raw = os.urandom(32)
    padded = base64.urlsafe_b64encode(raw).decode()
    assert padded.endswith("=")
    assert KeyRing.parse(f"a:{padded}").keys["a"] == raw
    assert KeyRing.parse(f"a:{padded.rstrip('=')}").keys["a"] == raw
    entry = generate_key_entry("prod-2026")
    assert entry.startswith("prod-2026:") and len(KeyRing.parse(entry).keys["prod-2026"]) == 32


def test_secret_never_prints_or_serialises_by_accident():
    assert "P531" not in repr(TOKEN) + str(TOKEN) + f"{TOKEN}" + f"{TOKEN}"
    with pytest.raises(TypeError):
        json.dumps({"token": TOKEN})
