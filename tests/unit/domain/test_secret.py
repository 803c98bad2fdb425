"""Secrets (tokens, client secrets) never print or serialise by accident; `.reveal()` is deliberate."""

import json
import logging
import pickle
from datetime import UTC, datetime

import pytest

from gql_api.domain.connections import Credential
from gql_api.domain.secrets import Secret

TOKEN = Secret("P5312-refresh-token")


def logged(value):
    """A log line with `value` as its argument, formatted the way logging does it."""
    return logging.LogRecord("gql_api", logging.INFO, __file__, 1, "token: %s", (value,), None).getMessage()


@pytest.mark.parametrize(
    "shown",
    [
        repr,
        str,
        lambda s: f"{s}",
        lambda s: f"{s!r}",
        lambda s: f"{s:>40}",
        lambda s: str([s]),
        lambda s: str({"token": s}),
        logged,
    ],
    ids=["repr", "str", "f-string", "f-string-repr", "format-spec", "in-a-list", "in-a-dict", "logged"],
)
def test_a_secret_never_prints(shown):
    assert "P5312" not in shown(TOKEN)


def test_a_credential_prints_without_its_tokens():
    credential = Credential(
        access_token=Secret("P5312-access"),
        refresh_token=TOKEN,
        access_token_expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    )

    assert "P5312" not in repr(credential)


def test_a_secret_is_not_serialised_to_json():
    with pytest.raises(TypeError):
        json.dumps({"token": TOKEN})


def test_a_secret_is_not_pickled():
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(TOKEN)


def test_revealing_a_secret_is_deliberate():
    assert TOKEN.reveal() == "P5312-refresh-token"


def test_secrets_compare_by_value_and_only_with_secrets():
    assert Secret("P5312-refresh-token") == TOKEN
    assert Secret("another") != TOKEN
    assert TOKEN != "P5312-refresh-token"
    assert {TOKEN, Secret("P5312-refresh-token")} == {TOKEN}
