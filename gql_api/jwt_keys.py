"""The identity provider's public key (AUTH_JWT_PUBLIC_KEY): loaded once, with the one algorithm it can verify.

Loading it at start-up is what turns a wrong key into a refusal naming the variable instead of a 500 on
every request: a private key given by mistake loads in PyJWT but cannot verify, and text that is no key
at all fails only when the first token arrives. Each key type verifies exactly one algorithm, so a token
cannot choose another one than the key was made for.
"""

from __future__ import annotations

import dataclasses

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

MIN_RSA_BITS = 2048  # NIST SP 800-131A: shorter RSA keys are not acceptable for signatures
VerifyingKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


class KeyProblem(ValueError):
    """Why the text cannot verify tokens; completes "AUTH_JWT_PUBLIC_KEY ..."."""


@dataclasses.dataclass(frozen=True)
class PublicKey:
    key: VerifyingKey
    algorithm: str  # the one JWS algorithm this key verifies


def load_public_key(pem: str) -> PublicKey:
    """The public key in `pem` and its algorithm (RS256, ES256 or EdDSA); KeyProblem otherwise."""
    data = pem.strip().encode("utf-8", "surrogateescape")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if _is_private_key(data):
            raise KeyProblem(
                "holds a PRIVATE key: give the identity provider's PUBLIC key only "
                "(-----BEGIN PUBLIC KEY-----), and keep the private one out of this service"
            ) from None
        raise KeyProblem("is not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyProblem(f"is an RSA key of {key.key_size} bits: at least {MIN_RSA_BITS} are needed")
        return PublicKey(key, "RS256")
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyProblem(f"is an EC key on {key.curve.name}: ES256 needs P-256 (secp256r1)")
        return PublicKey(key, "ES256")
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return PublicKey(key, "EdDSA")
    raise KeyProblem(f"is a {type(key).__name__}: use an RSA, EC P-256 or Ed25519 key (RS256, ES256, EdDSA)")


def _is_private_key(data: bytes) -> bool:
    try:
        load_pem_private_key(data, password=None)
    except TypeError:  # encrypted: a private key all the same
        return True
    except (ValueError, UnsupportedAlgorithm):
        return b"PRIVATE KEY-----" in data
    return True
