"""Configuration names of DESIGN.md §3, read from the environment."""

from __future__ import annotations

import pytest

from gql_api.settings import ConfigError, Settings, describe_dev_defaults


def test_nothing_set_means_every_embedded_default():
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.uses_sandbox and settings.uses_dev_auth
    assert settings.cronofy_urls_override == ("http://127.0.0.1:8080/sandbox/cronofy",) * 2
    assert settings.redirect_uris == ("http://127.0.0.1:8080/demo/calendar-linked",)
    assert len(describe_dev_defaults(settings)) == 5


def test_production_names_are_read():
    settings = Settings.from_env({
        "HOST": "0.0.0.0", "PORT": "9000", "PUBLIC_BASE_URL": "https://api.example.com/",
        "MONGODB_URI": "mongodb://db:27017", "MONGODB_DATABASE": "prod", "MONGODB_DRIVER": "PyMongo",
        "CRONOFY_CLIENT_ID": "id", "CRONOFY_CLIENT_SECRET": "secret", "CRONOFY_DATA_CENTER": "DE",
        "TOKEN_ENCRYPTION_KEYS": "k:x", "AUTH_JWT_SECRET": "s", "AUTH_JWT_ISSUER": "iss", "AUTH_JWT_AUDIENCE": "aud",
        "ALLOWED_REDIRECT_URIS": " https://app.example.com/cb , https://m.example.com/cb,, ",
    })
    assert settings.port == 9000 and settings.mongodb_driver == "pymongo" and settings.cronofy_data_center == "de"
    assert not settings.uses_sandbox and not settings.uses_dev_auth
    assert settings.cronofy_urls_override == (None, None)  # the gateway picks the data center's hosts
    assert settings.redirect_uris == ("https://app.example.com/cb", "https://m.example.com/cb")
    assert settings.base_url == "https://api.example.com"
    assert describe_dev_defaults(settings) == []


def test_one_host_override_serves_both_api_and_app():
    settings = Settings.from_env({"CRONOFY_CLIENT_ID": "i", "CRONOFY_CLIENT_SECRET": "s", "AUTH_JWT_SECRET": "j",
                                  "CRONOFY_API_URL": "http://127.0.0.1:9/cronofy"})
    assert settings.cronofy_urls_override == ("http://127.0.0.1:9/cronofy",) * 2


@pytest.mark.parametrize("env", [
    {"PORT": "0"}, {"PORT": "70000"}, {"PORT": "http"}, {"CRONOFY_TIMEOUT_SECONDS": "soon"},
    {"AUTH_JWT_SECRET": "a", "AUTH_JWT_PUBLIC_KEY": "b"}, {"CRONOFY_CLIENT_SECRET": "only-secret"},
    {"MONGODB_URI": "mongodb://db"},  # durable tokens under an ephemeral key
    {"CRONOFY_CLIENT_ID": "i", "CRONOFY_CLIENT_SECRET": "s"},  # real Cronofy, dev auth
    {"PUBLIC_BASE_URL": "https://" + "x" * 100 + ".example"},  # callback URL over Cronofy's 128
    {"SYNC_RECONCILE_INTERVAL_SECONDS": "-1"},
])
def test_contradictions_and_nonsense_are_refused(env):
    with pytest.raises(ConfigError):
        Settings.from_env(env)
