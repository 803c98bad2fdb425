"""Opaque, typed public IDs: clients never see (or need) our database keys."""

from __future__ import annotations

import base64
import binascii


def encode_id(kind: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{raw}".encode()).decode().rstrip("=")


def decode_id(kind: str, public_id: str) -> str | None:
    """The raw key behind a public ID of `kind`; None for anything else (malformed or another kind)."""
    try:
        decoded = base64.urlsafe_b64decode(public_id + "=" * (-len(public_id) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
    prefix, sep, raw = decoded.partition(":")
    return raw if sep and prefix == kind and raw else None
