"""Calendar providers from Cronofy's provider_name (DESIGN.md §7)."""

import pytest

from gql_api.domain.connections import CalendarProvider


@pytest.mark.parametrize(
    ("provider_name", "provider"),
    [
        ("google", CalendarProvider.GOOGLE),
        ("apple", CalendarProvider.APPLE),
        ("office365", CalendarProvider.OFFICE365),
        ("exchange", CalendarProvider.EXCHANGE),
        ("live_connect", CalendarProvider.OUTLOOK_COM),
    ],
)
def test_each_known_cronofy_provider_has_its_own_value(provider_name, provider):
    assert CalendarProvider.from_cronofy(provider_name) is provider


@pytest.mark.parametrize(
    "provider_name",
    [
        "other",
        "icloud",
        "outlook_com",  # our name, not Cronofy's
        "Google",  # Cronofy's names are lower case
        "",
        None,
    ],
)
def test_anything_else_is_other(provider_name):
    assert CalendarProvider.from_cronofy(provider_name) is CalendarProvider.OTHER


def test_every_provider_can_come_from_cronofy():
    reached = {CalendarProvider.from_cronofy(p.value) for p in CalendarProvider}

    assert reached == set(CalendarProvider)
