"""Configuration names of DESIGN.md §3, read from the environment."""

from __future__ import annotations

import dataclasses
import math

import pytest

from gql_api.settings import VARIABLES, ConfigError, Settings, describe_dev_defaults


def test_nothing_set_means_every_embedded_default():
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.uses_sandbox and settings.uses_dev_auth
    assert settings.cronofy_urls_override == ("http://127.0.0.1:8080/sandbox/cronofy",) * 2
    assert settings.redirect_uris == ("http://127.0.0.1:8080/demo/calendar-linked",)
    assert len(describe_dev_defaults(settings)) == 5


def test_production_names_are_read():
    settings = Settings.from_env(
        {
            "HOST": "0.0.0.0",
            "PORT": "9000",
            "PUBLIC_BASE_URL": "https://api.example.com/",
            "MONGODB_URI": "mongodb://db:27017",
            "MONGODB_DATABASE": "prod",
            "MONGODB_DRIVER": "PyMongo",
            "CRONOFY_CLIENT_ID": "id",
            "CRONOFY_CLIENT_SECRET": "secret",
            "CRONOFY_DATA_CENTER": "DE",
            "TOKEN_ENCRYPTION_KEYS": "k:x",
            "AUTH_JWT_SECRET": "s" * 32,
            "AUTH_JWT_ISSUER": "iss",
            "AUTH_JWT_AUDIENCE": "aud",
            "ALLOWED_REDIRECT_URIS": " https://app.example.com/cb , https://m.example.com/cb,, ",
        }
    )
    assert settings.port == 9000 and settings.mongodb_driver == "pymongo" and settings.cronofy_data_center == "de"
    assert not settings.uses_sandbox and not settings.uses_dev_auth
    assert settings.cronofy_urls_override == (None, None)  # the gateway picks the data center's hosts
    assert settings.redirect_uris == ("https://app.example.com/cb", "https://m.example.com/cb")
    assert settings.base_url == "https://api.example.com"
    assert describe_dev_defaults(settings) == []


def test_one_host_override_serves_both_api_and_app():
    settings = Settings.from_env(
        {
            "CRONOFY_CLIENT_ID": "i",
            "CRONOFY_CLIENT_SECRET": "s",
            "TOKEN_ENCRYPTION_KEYS": "k:x",
            "AUTH_JWT_SECRET": "j" * 32,
            "ALLOWED_REDIRECT_URIS": "https://app.example.com/cb",
            "CRONOFY_API_URL": "http://127.0.0.1:9/cronofy",
        }
    )
    assert settings.cronofy_urls_override == ("http://127.0.0.1:9/cronofy",) * 2


@pytest.mark.parametrize(
    "env",
    [
        {"PORT": "0"},
        {"PORT": "70000"},
        {"PORT": "http"},
        {"CRONOFY_TIMEOUT_SECONDS": "soon"},
        {"AUTH_JWT_SECRET": "a", "AUTH_JWT_PUBLIC_KEY": "b"},
        {"CRONOFY_CLIENT_SECRET": "only-secret"},
        {"MONGODB_URI": "mongodb://db"},  # durable tokens under an ephemeral key
        {"CRONOFY_CLIENT_ID": "i", "CRONOFY_CLIENT_SECRET": "s"},  # real Cronofy, dev auth
        {"PUBLIC_BASE_URL": "https://" + "x" * 100 + ".example"},  # callback URL over Cronofy's 128
        {"SYNC_RECONCILE_INTERVAL_SECONDS": "-1"},
    ],
)
def test_contradictions_and_nonsense_are_refused(env):
    with pytest.raises(ConfigError):
        Settings.from_env(env)


# --- numbers: finite, and above zero where zero makes no sense ----------------------------------------

FLOAT_SETTINGS = [
    "CRONOFY_TIMEOUT_SECONDS",
    "WORKER_POLL_SECONDS",
    "SYNC_GRACE_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "REQUEST_BODY_TIMEOUT_SECONDS",
    "CRONOFY_BACKGROUND_SHARE",
    "CRONOFY_SWEEP_SHARE",
    "CRONOFY_USER_SHARE",
    "SUBSCRIPTION_POLL_SECONDS",
    "WEBSOCKET_HEARTBEAT_SECONDS",
]
POSITIVE_WAITS = [
    "CRONOFY_TIMEOUT_SECONDS",
    "WORKER_POLL_SECONDS",
    "SUBSCRIPTION_POLL_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "REQUEST_BODY_TIMEOUT_SECONDS",
]


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    return str(refused.value)


def test_the_float_settings_here_are_all_the_float_settings():
    # given the settings table
    # when its float settings are listed
    floats = [variable.name for variable in VARIABLES if isinstance(variable.default, float)]

    # then the tests below cover each of them
    assert sorted(floats) == sorted(FLOAT_SETTINGS)


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_a_float_setting_that_is_not_finite_is_refused_naming_the_variable(name, value):
    # given a value float() reads but no clock can count (nan, say, would stop the worker's polling)
    env = {name: value}

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable
    assert message.startswith(f"{name} must be a finite number, got ")


@pytest.mark.parametrize("name", POSITIVE_WAITS)
@pytest.mark.parametrize("value", ["0", "0.0", "-1", "-0.5"])
def test_a_wait_of_zero_or_less_is_refused_naming_the_variable(name, value):
    # given a poll interval or a timeout that is not above zero
    env = {name: value}

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable
    assert message.startswith(f"{name} must be > 0, got ")


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("SYNC_GRACE_SECONDS", "-1", "must be at least 0"),
        ("SYNC_GRACE_SECONDS", "-0.1", "must be at least 0"),
        ("SYNC_RECONCILE_INTERVAL_SECONDS", "-1", "must be at least 0"),
        ("CRONOFY_REFRESH_MARGIN_SECONDS", "-1", "must be at least 0"),
        ("CRONOFY_MAX_ATTEMPTS", "0", "must be at least 1"),
        ("OUTBOX_MAX_ATTEMPTS", "-1", "must be at least 1"),
        ("CRONOFY_RATE_PER_SECOND", "1", "must be at least 2"),
        ("CRONOFY_RATE_PER_MINUTE", "0", "must be at least 2"),
        ("PORT", "-1", "must be between 1 and 65535"),
    ],
)
def test_a_number_below_its_bound_is_refused_naming_the_variable(name, value, rule):
    # given a number below what the setting can work with
    env = {name: value}

    # when the settings are read
    message = refusal(env)

    # then they are refused, naming the variable and its bound
    assert message.startswith(f"{name} {rule}, got ")


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("SYNC_GRACE_SECONDS", "sync_grace_seconds"),  # answer PENDING at once
        ("SYNC_RECONCILE_INTERVAL_SECONDS", "sync_reconcile_interval_seconds"),  # no reconciliation
        ("CRONOFY_REFRESH_MARGIN_SECONDS", "cronofy_refresh_margin_seconds"),  # refresh on expiry
    ],
)
def test_zero_is_accepted_where_it_means_something(name, field):
    # given zero for a setting where zero has a meaning
    env = {name: "0"}

    # when the settings are read
    settings = Settings.from_env(env)

    # then zero is kept
    assert getattr(settings, field) == 0


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"worker_poll_seconds": math.nan}, "WORKER_POLL_SECONDS"),
        ({"worker_poll_seconds": 0.0}, "WORKER_POLL_SECONDS"),
        ({"cronofy_timeout_seconds": math.inf}, "CRONOFY_TIMEOUT_SECONDS"),
        ({"sync_grace_seconds": -math.inf}, "SYNC_GRACE_SECONDS"),
        ({"shutdown_timeout_seconds": -1.0}, "SHUTDOWN_TIMEOUT_SECONDS"),
    ],
)
def test_settings_built_in_code_are_checked_the_same_way(changes, name):
    # given settings built directly, as tests and embedders do
    # when one of their numbers is out of bounds
    with pytest.raises(ConfigError) as refused:
        dataclasses.replace(Settings(), **changes)

    # then the refusal names the variable that would have set it
    assert str(refused.value).startswith(f"{name} must be ")


def test_text_that_is_not_a_number_is_refused_naming_the_variable():
    # given a port that is not a number
    # when the settings are read
    message = refusal({"PORT": "x"})

    # then the refusal says which variable and what it got
    assert message == "PORT must be a number, got 'x'"
