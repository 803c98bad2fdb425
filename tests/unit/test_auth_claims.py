"""What the platform says in its tokens reaches `User` (DESIGN §9): partners, calendar integration, roles;
a claim of the wrong shape makes the token invalid; AUTH_JWT_MAX_AGE_SECONDS refuses old tokens."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jwt
import pytest

from gql_api import Settings
from gql_api.auth import AuthenticationError, Authenticator, mint_dev_token

SECRET = "claims-test-secret-of-at-least-32-bytes"
PRODUCTION = Settings(
    cronofy_client_id="client",
    cronofy_client_secret="secret",
    token_encryption_keys="k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    auth_jwt_secret=SECRET,
    allowed_redirect_uris=("https://app.example.com/linked",),
)


def token(**claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + 600, **claims}, SECRET, algorithm="HS256")


def authenticate(bearer: str, settings: Settings = PRODUCTION) -> Any:
    return Authenticator(settings).authenticate(f"Bearer {bearer}")


def refused(bearer: str, settings: Settings = PRODUCTION) -> str:
    with pytest.raises(AuthenticationError) as error:
        authenticate(bearer, settings)
    return str(error.value)


def test_partners_calendar_integration_and_roles_are_read_from_the_token():
    # given a token with every claim of DESIGN §9
    bearer = token(partners=["bob", "carol"], calendar_integration=False, roles=["admin"])

    # when it is authenticated
    user = authenticate(bearer)

    # then the user carries them
    assert user.partners == frozenset({"bob", "carol"})
    assert user.calendar_integration is False
    assert user.roles == frozenset({"admin"})


def test_absent_claims_mean_no_partners_integration_on_and_no_roles():
    # given a token with none of those claims
    # when it is authenticated
    user = authenticate(token())

    # then: nobody to meet by user id, the integration on, no roles
    assert (user.partners, user.calendar_integration, user.roles) == (frozenset(), True, frozenset())


def test_the_claim_names_are_configurable():
    # given a platform that names its claims otherwise
    settings = dataclasses.replace(PRODUCTION, auth_partners_claim="mentees", auth_calendar_integration_claim="cal")
    bearer = token(mentees=["bob"], cal=False, partners=["mallory"], calendar_integration=True)

    # when a token is authenticated under those names
    user = authenticate(bearer, settings)

    # then those claims count, and the default names mean nothing
    assert user.partners == frozenset({"bob"}) and user.calendar_integration is False


@pytest.mark.parametrize(
    "claims",
    [
        {"partners": "bob"},  # a string, not a list (iterating it would give "b", "o", "b")
        {"partners": {"bob": True}},
        {"partners": ["bob", 7]},
        {"partners": ["bob", None]},
        {"partners": ["bob", ""]},
        {"partners": [["bob"]]},
        {"calendar_integration": "false"},  # truthy text
        {"calendar_integration": 0},
        {"calendar_integration": None},
        {"roles": "admin"},
        {"roles": [{"name": "admin"}]},
        {"sub": 42},
    ],
    ids=repr,
)
def test_a_claim_of_the_wrong_shape_makes_the_token_invalid(claims):
    # given a correctly signed token whose claim has the wrong shape
    # when it is authenticated
    # then it is invalid, as any bad token (never a 500, never a guess at what was meant)
    assert refused(token(**claims)) == "The bearer token is invalid."


def with_max_age(seconds: int) -> Settings:
    return dataclasses.replace(PRODUCTION, auth_jwt_max_age_seconds=seconds)


def test_with_a_max_age_an_older_token_is_too_old():
    # given AUTH_JWT_MAX_AGE_SECONDS=600 and a token issued two hours ago, still unexpired
    now = int(time.time())
    bearer = token(iat=now - 7200, exp=now + 600)

    # when it is authenticated
    # then it is refused as too old
    assert refused(bearer, with_max_age(600)) == "The bearer token is too old."


def test_with_a_max_age_a_recent_token_passes_and_one_without_iat_is_invalid():
    # given AUTH_JWT_MAX_AGE_SECONDS=600
    settings = with_max_age(600)
    now = int(time.time())
    without_iat = jwt.encode({"sub": "alice", "exp": now + 600}, SECRET, algorithm="HS256")

    # when a token issued a minute ago, and one without `iat`, are authenticated
    # then the first passes and the second is invalid
    assert authenticate(token(iat=now - 60), settings).id == "alice"
    assert refused(without_iat, settings) == "The bearer token is invalid."
    assert refused(token(iat="yesterday"), settings) == "The bearer token is invalid."


def test_without_a_max_age_old_unexpired_tokens_pass():
    # given no AUTH_JWT_MAX_AGE_SECONDS
    now = int(time.time())

    # when a token issued long ago but unexpired is authenticated
    # then only `exp` counts
    assert authenticate(token(iat=now - 30 * 86400, exp=now + 600)).id == "alice"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer \udcff\udcfe",
        "Bearer tökén.with.accents",
        "Bearer a.b.c\x00",
        "Bearer a b c",
        "Bearer ..",
        "Bearer a.b\u2028.c",
    ],
    ids=["not-utf8", "non-ascii", "nul", "spaces", "empty-parts", "line-separator"],
)
def test_odd_characters_in_the_header_are_an_invalid_token(header):
    # given an Authorization header with bytes that were not UTF-8 (surrogates, as aiohttp hands them over)
    # or characters no JWT has
    # when it is authenticated
    with pytest.raises(AuthenticationError) as error:
        Authenticator(PRODUCTION).authenticate(header)

    # then it is an invalid token, not an exception PyJWT raises while encoding it
    assert str(error.value) == "The bearer token is invalid."


def test_dev_tokens_carry_the_claims_asked_for_and_none_by_default():
    # given dev auth
    settings = Settings()

    # when a token is minted with partners, the integration off and a role, and one with nothing
    full = mint_dev_token(settings, "alice", partners=["bob", "carol"], calendar_integration=False, roles=["admin"])
    plain = mint_dev_token(settings, "alice")

    # then the server reads them back, and the plain one carries no partners claim at all
    user = Authenticator(settings).authenticate(f"Bearer {full}")
    assert (user.partners, user.calendar_integration, user.roles) == (
        frozenset({"bob", "carol"}),
        False,
        frozenset({"admin"}),
    )
    assert "partners" not in jwt.decode(plain, options={"verify_signature": False})
