"""Cronofy's push signature, against the test vectors Cronofy publishes (cronofy.md §7.3)."""

from __future__ import annotations

import pytest

from gql_api.cronofy.push import parse_notification, signature_valid

BODY = b'{"example":"well-known"}'
VECTORS = {
    "pDY0Oi7TJSP2hfNmZNkm5": "6r2/HjBkqymGegX0wOfifieeUXbbHwtV/LohHS+jv6c=",
    "CRN_NggYusqPGLxwjw5FHOJYOqSrTPNXy8WQf14OID": "5DxentQi5YSXODEzTVv06sRwJ3pULIz1KrYv20qxEK0=",
    "CRN_nGlYDFXwfSXgB9rvGNBJyfE454GGPtWIbNuPwr": "BmQmWVuZ70ILWjr1CAt5oC7YOolgnku4WZtlrKfx/6k=",
}
ROTATION_HEADER = "5DxentQi5YSXODEzTVv06sRwJ3pULIz1KrYv20qxEK0=,BmQmWVuZ70ILWjr1CAt5oC7YOolgnku4WZtlrKfx/6k="


@pytest.mark.parametrize(("secret", "header"), VECTORS.items())
def test_published_vectors_verify(secret, header):
    assert signature_valid(header, BODY, secret)


@pytest.mark.parametrize("secret", list(VECTORS)[1:])
def test_either_secret_passes_during_rotation(secret):
    assert signature_valid(ROTATION_HEADER, BODY, secret)
    assert signature_valid(ROTATION_HEADER.replace(",", " , "), BODY, secret)


@pytest.mark.parametrize(
    ("header", "body", "secret"),
    [
        (None, BODY, "pDY0Oi7TJSP2hfNmZNkm5"),
        ("", BODY, "pDY0Oi7TJSP2hfNmZNkm5"),
        (",", BODY, "pDY0Oi7TJSP2hfNmZNkm5"),
        ("6r2/HjBkqymGegX0wOfifieeUXbbHwtV/LohHS+jv6c=", b'{"example":"well-known" }', "pDY0Oi7TJSP2hfNmZNkm5"),
        ("6r2/HjBkqymGegX0wOfifieeUXbbHwtV/LohHS+jv6c=", BODY, "another-secret"),
        ("6r2_HjBkqymGegX0wOfifieeUXbbHwtV_LohHS-jv6c=", BODY, "pDY0Oi7TJSP2hfNmZNkm5"),  # URL-safe alphabet
        (ROTATION_HEADER, BODY, "pDY0Oi7TJSP2hfNmZNkm5"),
        ("6r2/HjBkqymGegX0wOfifieeUXbbHwtV/LohHS+jv6c=", BODY, ""),
    ],
)
def test_missing_tampered_or_foreign_signatures_fail(header, body, secret):
    assert not signature_valid(header, body, secret)


def test_notifications_parse_and_junk_does_not():
    change = parse_notification(
        b'{"notification":{"type":"change","changes_since":"2026-08-25T20:06:29Z"},'
        b'"channel":{"channel_id":"chn_1","callback_url":"x","filters":{},'
        b'"scheduling_conversations":{}}}'
    )
    assert change.type == "change" and change.changes_since.isoformat() == "2026-08-25T20:06:29+00:00"
    assert parse_notification(b'{"notification":{"type":"gdpr_requested"}}').type == "gdpr_requested"
    for junk in (
        b"",
        b"[]",
        b"{}",
        b'{"notification":"change"}',
        b'{"notification":{"type":7}}',
        b"\xff",
        b'{"notification":{"type":"change","changes_since":"yesterday"}}',
    ):
        with pytest.raises(ValueError, match=r"."):  # any reason, as long as it says one
            parse_notification(junk)
