"""Production cannot start in a development shape, nor with settings that would fail it later (issue 12,
items 3, 4 and 5): each refusal happens when Settings are built, so `create_app` and every command refuse
too, and each names the variable to set."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from mongomock_motor import AsyncMongoMockClient

from gql_api import Settings, create_app
from gql_api.settings import DEV_AUTH_SECRET, ConfigError

# A whole production configuration; each test below changes one thing in it.
PRODUCTION = {
    "HOST": "0.0.0.0",
    "PUBLIC_BASE_URL": "https://calendar-api.example.com",
    "MONGODB_URI": "mongodb://db.internal:27017",
    "CRONOFY_CLIENT_ID": "client",
    "CRONOFY_CLIENT_SECRET": "secret",
    "TOKEN_ENCRYPTION_KEYS": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "AUTH_JWT_SECRET": "p" * 32,
    "ALLOWED_REDIRECT_URIS": "https://app.example.com/calendar/linked",
}


def production(**changes: str | None) -> dict[str, str]:
    """PRODUCTION with these variables changed (None: unset)."""
    env = {**PRODUCTION, **changes}
    return {name: value for name, value in env.items() if value is not None}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    return str(refused.value)


def pem_public(private_key: object) -> str:
    return (
        private_key.public_key()  # type: ignore[attr-defined]
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def pem_private(private_key: object, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    ).decode()


def test_the_production_configuration_is_accepted_and_is_not_the_development_shape():
    # given every production variable set
    # when the settings are read
    settings = Settings.from_env(PRODUCTION)

    # then they are accepted, outside the development shape
    assert not settings.development and not settings.uses_sandbox and not settings.uses_dev_auth


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"HOST": "localhost"},
        {"HOST": "::1", "PUBLIC_BASE_URL": "http://[::1]:8080"},
        {"HOST": "127.0.0.2", "PUBLIC_BASE_URL": "http://localhost:5173"},
    ],
)
def test_dev_auth_on_loopback_with_a_loopback_public_url_is_the_development_shape(env):
    # given dev auth, a loopback HOST and, if any, a loopback PUBLIC_BASE_URL
    # when the settings are read
    settings = Settings.from_env(env)

    # then that is the development shape, with the sandbox
    assert settings.development and settings.uses_sandbox


# --- items 3 and 4: the sandbox, the demo page and dev auth only in the development shape --------------


def test_the_sandbox_is_refused_with_real_client_auth():
    # given real client auth but no Cronofy credentials: the open sandbox would be served to the world
    env = production(CRONOFY_CLIENT_ID=None, CRONOFY_CLIENT_SECRET=None)

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable to set
    assert message.startswith("CRONOFY_CLIENT_ID is unset, so the built-in Cronofy sandbox would be served")
    assert "Set CRONOFY_CLIENT_ID and CRONOFY_CLIENT_SECRET" in message


def test_the_sandbox_is_refused_with_real_client_auth_even_on_loopback():
    # given real client auth on 127.0.0.1 and nothing else (say, a staging box behind a proxy)
    env = {"AUTH_JWT_SECRET": "p" * 32}

    # when the settings are read
    # then the sandbox is refused all the same: the shape is not development's
    assert "CRONOFY_CLIENT_ID is unset" in refusal(env)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "calendar-api.internal", "127.0.0.1.nip.io"])
def test_dev_auth_is_refused_on_a_non_loopback_host(host):
    # given dev auth (no AUTH_JWT_*) listening on an address others can reach
    # when the settings are read
    message = refusal({"HOST": host})

    # then they are refused, naming the variables to set
    assert message == (
        "dev auth accepts tokens anyone can mint: set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY "
        f"before listening on {host}"
    )


@pytest.mark.parametrize(
    "public_base_url", ["https://calendar-api.example.com", "http://192.168.1.20:8080", "https://localhost.example"]
)
def test_dev_auth_is_refused_behind_a_proxy_with_a_public_url(public_base_url):
    # given dev auth on 127.0.0.1, but reached through a reverse proxy at a public URL
    env = {"HOST": "127.0.0.1", "PUBLIC_BASE_URL": public_base_url}

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming what to set and the URL that made it public
    assert message.startswith("dev auth accepts tokens anyone can mint: set AUTH_JWT_SECRET or AUTH_JWT_PUBLIC_KEY")
    assert f"PUBLIC_BASE_URL {public_base_url}" in message


def test_the_demo_callback_is_refused_outside_development():
    # given a production configuration without redirect URIs: only the dev server's demo page would be allowed
    env = production(ALLOWED_REDIRECT_URIS=None)

    # when the settings are read
    # then they are refused, naming the variable
    assert refusal(env).startswith("ALLOWED_REDIRECT_URIS is unset: the demo callback exists only in development")


def test_settings_built_in_code_are_held_to_the_same_shape():
    # given settings built directly, as embedders and tests do
    # when one leaves the development shape while keeping the sandbox
    with pytest.raises(ConfigError, match="CRONOFY_CLIENT_ID is unset"):
        dataclasses.replace(Settings(), auth_jwt_secret="p" * 32)

    # then they are refused the same way
    with pytest.raises(ConfigError, match="dev auth accepts tokens anyone can mint"):
        dataclasses.replace(Settings(), public_base_url="https://calendar-api.example.com")


@pytest.mark.parametrize(
    "url", ["calendar-api.example.com", "ftp://calendar-api.example.com", "https://", "https://x:99999"]
)
def test_a_public_base_url_that_is_no_http_url_is_refused(url):
    # given a PUBLIC_BASE_URL that no browser nor Cronofy could use
    # when the settings are read
    # then they are refused, naming it
    assert refusal(production(PUBLIC_BASE_URL=url)).startswith("PUBLIC_BASE_URL must be an http(s) URL")


# --- item 5: keys, secrets and durability ----------------------------------------------------------------


@pytest.mark.parametrize(
    "private_key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["rsa", "ec", "ed25519"],
)
@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.OpenSSH], ids=["pkcs8", "openssh"]
)
def test_a_private_key_given_as_the_public_key_is_refused(private_key, fmt):
    # given the identity provider's PRIVATE key pasted into AUTH_JWT_PUBLIC_KEY (every token would get a 500)
    env = production(AUTH_JWT_SECRET=None, AUTH_JWT_PUBLIC_KEY=pem_private(private_key, fmt))

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable and saying what is wrong
    assert message.startswith("AUTH_JWT_PUBLIC_KEY holds a PRIVATE key")


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN PUBLIC KEY-----...",
        "not a key at all",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==",
    ],
    ids=["truncated", "prose", "bad-base64-body", "a-secret-instead"],
)
def test_text_that_is_no_pem_public_key_is_refused(text):
    # given AUTH_JWT_PUBLIC_KEY that is not a PEM public key
    env = production(AUTH_JWT_SECRET=None, AUTH_JWT_PUBLIC_KEY=text)

    # when the settings are read
    # then they are refused, naming the variable
    assert refusal(env).startswith("AUTH_JWT_PUBLIC_KEY is not a PEM public key")


@pytest.mark.parametrize(
    ("private_key", "problem"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "is an RSA key of 1024 bits"),
        (ec.generate_private_key(ec.SECP384R1()), "is an EC key on secp384r1"),
        (dsa.generate_private_key(key_size=2048), "is a "),
    ],
    ids=["rsa-1024", "ec-p384", "dsa"],
)
def test_a_public_key_that_cannot_verify_our_algorithms_is_refused(private_key, problem):
    # given a public key too weak, or of a kind none of RS256, ES256 and EdDSA verifies
    env = production(AUTH_JWT_SECRET=None, AUTH_JWT_PUBLIC_KEY=pem_public(private_key))

    # when the settings are read
    # then they are refused, naming the variable
    assert refusal(env).startswith(f"AUTH_JWT_PUBLIC_KEY {problem}")


@pytest.mark.parametrize(
    "private_key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["rsa", "ec", "ed25519"],
)
def test_a_pem_public_key_is_accepted(private_key):
    # given a proper public key of each supported kind
    # when the settings are read
    settings = Settings.from_env(production(AUTH_JWT_SECRET=None, AUTH_JWT_PUBLIC_KEY=pem_public(private_key)))

    # then they are accepted
    assert settings.auth_jwt_public_key


@pytest.mark.parametrize("secret", ["s", "secret", "x" * 31, "é" * 15])
def test_a_short_jwt_secret_is_refused(secret):
    # given an HS256 secret under 32 bytes (guessable offline from any one token)
    # when the settings are read
    message = refusal(production(AUTH_JWT_SECRET=secret))

    # then they are refused, naming the variable
    assert message.startswith("AUTH_JWT_SECRET must be at least 32 bytes")


def test_the_dev_secret_is_refused_as_the_jwt_secret():
    # given the dev secret, which is in the source, as the production secret
    # when the settings are read
    message = refusal(production(AUTH_JWT_SECRET=DEV_AUTH_SECRET))

    # then they are refused, naming the variable
    assert message.startswith("AUTH_JWT_SECRET is the dev secret")


def test_a_secret_of_32_bytes_is_enough_counted_in_bytes():
    # given 16 two-byte characters: 32 bytes
    # when the settings are read
    # then they are accepted
    assert Settings.from_env(production(AUTH_JWT_SECRET="é" * 16)).auth_jwt_secret == "é" * 16


def test_real_cronofy_with_an_ephemeral_encryption_key_is_refused():
    # given real Cronofy credentials but no TOKEN_ENCRYPTION_KEYS (nor a database, which asks for them anyway)
    env = production(TOKEN_ENCRYPTION_KEYS=None, MONGODB_URI=None)

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable: grants and owed revocations would die with the process
    assert message.startswith("CRONOFY_CLIENT_ID is set but TOKEN_ENCRYPTION_KEYS is not")
    assert "Set TOKEN_ENCRYPTION_KEYS" in message


def test_create_app_refuses_real_cronofy_on_the_in_memory_store():
    # given real Cronofy credentials and no MONGODB_URI
    settings = Settings.from_env(production(MONGODB_URI=None))

    # when the app is built without a database
    with pytest.raises(ConfigError) as refused:
        create_app(settings)

    # then it is refused, naming the variable to set
    assert str(refused.value).startswith("CRONOFY_CLIENT_ID is set but MONGODB_URI is not")
    assert "Set MONGODB_URI" in str(refused.value)


def test_an_injected_database_counts_as_the_configured_store():
    # given the same settings, and a database handed to create_app (DESIGN §2)
    settings = Settings.from_env(production(MONGODB_URI=None))

    # when the app is built with it
    app = create_app(settings, database=AsyncMongoMockClient(tz_aware=True)["injected"])

    # then it is built
    assert app is not None


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://app.example.com/calendar/linked", "must use https"),
        ("http://10.0.0.7/linked", "must use https"),
        ("http://localhost.example.com/linked", "must use https"),
        ("mentoring://calendar/linked", "must use https"),
        ("javascript:alert(1)", "is not an absolute URL"),
        ("app.example.com/linked", "is not an absolute URL"),
        ("https://app.example.com/linked#done", "has a fragment"),
        ("https://app.example.com/linked#", "has a fragment"),
        ("https://app.example.com:99999/linked", "is not an absolute URL"),
    ],
)
def test_a_redirect_uri_that_is_not_https_or_has_a_fragment_is_refused(uri, problem):
    # given a redirect URI the OAuth code would travel to in clear, or with a fragment
    env = production(ALLOWED_REDIRECT_URIS=f"https://app.example.com/calendar/linked,{uri}")

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable and the URI
    assert message.startswith(f"ALLOWED_REDIRECT_URIS: {uri!r} {problem}")


@pytest.mark.parametrize(
    "uri",
    ["http://127.0.0.1:3000/linked", "http://localhost/linked", "http://[::1]:8400/cb", "https://m.example.com/cb"],
)
def test_https_and_loopback_http_redirect_uris_are_accepted(uri):
    # given https, or http to this machine (a native app's loopback redirect, RFC 8252 §7.3)
    # when the settings are read
    settings = Settings.from_env(production(ALLOWED_REDIRECT_URIS=uri))

    # then they are accepted
    assert settings.redirect_uris == (uri,)


def test_claim_names_must_differ():
    # given one claim named for both the partners and the calendar integration
    env = production(AUTH_PARTNERS_CLAIM="mentoring", AUTH_CALENDAR_INTEGRATION_CLAIM="mentoring")

    # when the settings are read
    # then they are refused, naming both variables
    assert "AUTH_PARTNERS_CLAIM and AUTH_CALENDAR_INTEGRATION_CLAIM" in refusal(env)
