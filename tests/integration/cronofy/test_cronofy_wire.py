"""Cronofy's JSON, read and written, without HTTP: the pure functions of gql_api.cronofy.wire.

Payload shapes follow reference/cronofy.md (§3.3 tokens, §5 calendars, §6 events, §8.1 errors).
The gateway's behaviour over a real HTTP boundary is pinned in test_gateway.py; these tests pin
each reading rule on its own, in microseconds.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from email.utils import formatdate

import pytest

from gql_api.cronofy import wire
from gql_api.cronofy.errors import (
    CronofyBadRequest,
    CronofyError,
    CronofyForbidden,
    CronofyLocked,
    CronofyNotFound,
    CronofyRateLimited,
    CronofyServerError,
    CronofyUnauthorized,
    CronofyUnavailable,
    CronofyValidationError,
    InvalidClient,
    InvalidGrant,
)
from gql_api.cronofy.models import Attendee, CalendarEvent, EventAttendee, LinkingProfile
from gql_api.domain.secrets import Secret

API = "https://api-de.cronofy.com"
UTC = UTC

# §3.3, the recorded token response.
TOKEN_RESPONSE = {
    "token_type": "bearer",
    "access_token": "P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI",
    "expires_in": 3600,
    "refresh_token": "3gBYG1XamYDUEXUyybbummQWEe5YqPmf",
    "scope": "create_event delete_event",
    "account_id": "acc_5ba21743f408617d1269ea1e",
    "sub": "acc_5ba21743f408617d1269ea1e",
    "linking_profile": {
        "provider_name": "google",
        "profile_id": "pro_n23kjnwrw2",
        "profile_name": "example@cronofy.com",
    },
}
# §3.4: the refresh response has only token_type, access_token, expires_in, refresh_token and scope.
REFRESH_RESPONSE = {key: TOKEN_RESPONSE[key] for key in ("token_type", "access_token", "expires_in", "scope")}
PREVIOUS_REFRESH_TOKEN = Secret("previous-refresh-token")


def event_item(**fields):
    """A managed event as §6.5 reads it, with our event_id."""
    item = {
        "calendar_id": "cal_1",
        "event_uid": "evt_1",
        "event_id": "mtg_1",
        "summary": "Mentoring",
        "description": "",
        "start": "2026-11-25T09:00:00Z",
        "end": "2026-11-25T10:00:00Z",
        "deleted": False,
        "updated": "2026-11-24T08:00:01Z",
        "status": "confirmed",
    }
    item.update(fields)
    return item


# --- tokens --------------------------------------------------------------------------------------


def test_a_code_exchange_response_becomes_a_grant():
    # when
    grant = wire.token_grant(TOKEN_RESPONSE, previous_refresh_token=None)

    # then
    assert grant.access_token == Secret("P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI")
    assert grant.refresh_token == Secret("3gBYG1XamYDUEXUyybbummQWEe5YqPmf")
    assert grant.expires_in == 3600
    assert grant.scope == ("create_event", "delete_event")
    assert grant.sub == "acc_5ba21743f408617d1269ea1e"
    assert grant.linking_profile == LinkingProfile("google", "pro_n23kjnwrw2", "example@cronofy.com")
    assert "P531x88i05Ld2yXHIQ7WjiEyqlmOHsgI" not in repr(grant)


def test_a_refresh_response_with_a_new_refresh_token_rotates_it():
    # given
    response = {**REFRESH_RESPONSE, "refresh_token": "rotated"}

    # when
    grant = wire.token_grant(response, previous_refresh_token=PREVIOUS_REFRESH_TOKEN)

    # then
    assert grant.refresh_token == Secret("rotated")
    assert grant.sub is None and grant.linking_profile is None


@pytest.mark.parametrize("refresh_token", [pytest.param(..., id="absent"), None, "", 7])
def test_a_refresh_response_without_a_refresh_token_keeps_the_previous_one(refresh_token):
    # given
    response = dict(REFRESH_RESPONSE)
    if refresh_token is not ...:
        response["refresh_token"] = refresh_token

    # when
    grant = wire.token_grant(response, previous_refresh_token=PREVIOUS_REFRESH_TOKEN)

    # then
    assert grant.refresh_token is PREVIOUS_REFRESH_TOKEN


def test_a_code_exchange_without_a_refresh_token_is_unusable():
    with pytest.raises(CronofyUnavailable, match="without a refresh token"):
        wire.token_grant(REFRESH_RESPONSE, previous_refresh_token=None)


@pytest.mark.parametrize(
    "data", [None, [], "token", {}, {"access_token": ""}, {"access_token": 5}, {"refresh_token": "r"}]
)
def test_a_token_response_without_an_access_token_is_unusable(data):
    with pytest.raises(CronofyUnavailable, match="unexpected token response"):
        wire.token_grant(data, previous_refresh_token=PREVIOUS_REFRESH_TOKEN)


def test_the_sub_falls_back_to_the_account_id_and_odd_profiles_are_read_field_by_field():
    # given
    response = {
        **TOKEN_RESPONSE,
        "sub": "",
        "account_id": "acc_2",
        "linking_profile": {"provider_name": "apple", "profile_id": 9, "profile_name": ""},
    }

    # when
    grant = wire.token_grant(response, previous_refresh_token=None)

    # then
    assert grant.sub == "acc_2"
    assert grant.linking_profile == LinkingProfile(provider_name="apple", profile_id=None, profile_name=None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (3600, 3600),
        (60, 60),
        ("7200", 7200),
        (1800.0, 1800),
        (2**31 - 1, 2**31 - 1),
        (None, 3600),
        (0, 3600),
        (-5, 3600),
        (2**31, 3600),
        (True, 3600),
        (1.5, 3600),
        ("1.5", 3600),
        ("", 3600),
        ("٦٠", 3600),
        ("60 ", 3600),
        ([60], 3600),
    ],
)
def test_expires_in_is_read_as_documented_seconds_or_else_the_usual_hour(value, seconds):
    expires_in = wire.expires_in(value)

    assert expires_in == seconds and type(expires_in) is int


@pytest.mark.parametrize(
    ("value", "scopes"),
    [
        ("create_event  delete_event", ("create_event", "delete_event")),
        ("", ()),
        (None, ()),
        (["create_event"], ()),
    ],
)
def test_scopes_are_split_on_whitespace(value, scopes):
    assert wire.scopes(value) == scopes


def test_the_grant_computes_its_expiry_from_now():
    grant = wire.token_grant({**TOKEN_RESPONSE, "expires_in": 90}, previous_refresh_token=None)
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    assert grant.expires_at(now) == now + timedelta(seconds=90)


# --- what we write -------------------------------------------------------------------------------


def test_cronofy_times_are_whole_second_utc():
    moment = datetime(2026, 11, 25, 10, 30, 15, 999_999, tzinfo=timezone(timedelta(hours=1)))

    assert wire.cronofy_time(moment) == "2026-11-25T09:30:15Z"


def test_the_upsert_body_of_a_plain_event_leaves_out_location_and_attendees():
    # given
    event = CalendarEvent(
        event_id="mtg_1",
        summary="Mentoring",
        description=None,
        location=None,
        start=datetime(2026, 11, 25, 9, 0, 0, 500, tzinfo=UTC),
        end=datetime(2026, 11, 25, 10, tzinfo=UTC),
        tzid="Europe/Paris",
    )

    # when
    body = wire.event_body(event)

    # then
    assert body == {
        "event_id": "mtg_1",
        "summary": "Mentoring",
        "description": "",
        "start": "2026-11-25T09:00:00Z",
        "end": "2026-11-25T10:00:00Z",
        "tzid": "Europe/Paris",
    }


def test_the_upsert_body_carries_location_and_invited_attendees():
    # given
    event = CalendarEvent(
        event_id="mtg_1",
        summary="Mentoring",
        description="Notes",
        location="Room 4",
        start=datetime(2026, 11, 25, 9, tzinfo=UTC),
        end=datetime(2026, 11, 25, 10, tzinfo=UTC),
        tzid="Etc/UTC",
        attendees=(Attendee("a@example.test", "Ada"), Attendee("b@example.test")),
    )

    # when
    body = wire.event_body(event)

    # then
    assert body["description"] == "Notes"
    assert body["location"] == {"description": "Room 4"}
    assert body["attendees"] == {
        "invite": [{"email": "a@example.test", "display_name": "Ada"}, {"email": "b@example.test"}]
    }


# --- calendars -----------------------------------------------------------------------------------


def test_calendars_are_read_with_their_flags_and_items_without_an_id_are_skipped():
    # given
    data = {
        "calendars": [
            {
                "calendar_id": "cal_1",
                "calendar_name": "Home",
                "calendar_primary": True,
                "calendar_readonly": False,
                "calendar_deleted": False,
                "provider_name": "google",
                "profile_name": "example@cronofy.com",
            },
            {"calendar_id": "cal_2", "calendar_readonly": True},
            {"calendar_id": "cal_3", "calendar_deleted": "true"},
            {"calendar_id": ""},
            {"calendar_name": "no id"},
            "junk",
        ]
    }

    # when
    calendars = wire.calendars(data)

    # then
    assert [c.calendar_id for c in calendars] == ["cal_1", "cal_2", "cal_3"]
    home, readonly, odd = calendars
    assert home.name == "Home" and home.primary and home.writable and home.provider_name == "google"
    assert readonly.name == "cal_2" and not readonly.writable
    assert not odd.deleted  # only a real true counts


@pytest.mark.parametrize("data", [None, [], {}, {"calendars": {}}, {"calendars": "cal_1"}])
def test_a_response_without_a_calendar_list_is_unusable(data):
    with pytest.raises(CronofyUnavailable, match="unexpected calendars response"):
        wire.calendars(data)


# --- events --------------------------------------------------------------------------------------


def test_a_timed_managed_event_is_read_whole():
    # given
    item = event_item(
        description="Notes",
        location={"description": "Room 4"},
        attendees=[
            {"email": "a@example.test", "display_name": "Ada", "status": "accepted"},
            {"email": "b@example.test"},
            {"email": "", "status": "declined"},
            "junk",
        ],
    )

    # when
    event = wire.managed_event(item)

    # then
    assert event.calendar_id == "cal_1" and event.event_id == "mtg_1" and not event.deleted
    assert event.summary == "Mentoring" and event.description == "Notes" and event.location == "Room 4"
    assert event.start == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert event.end == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert event.updated == datetime(2026, 11, 24, 8, 0, 1, tzinfo=UTC)
    assert event.attendees == (EventAttendee("a@example.test", "accepted"), EventAttendee("b@example.test", "unknown"))


def test_an_all_day_event_has_no_start_or_end_instant():
    event = wire.managed_event(event_item(start="2014-09-06", end="2014-09-08"))

    assert event.start is None and event.end is None


@pytest.mark.parametrize(
    "fields", [{"deleted": True}, {"status": "cancelled"}, {"deleted": True, "status": "cancelled"}]
)
def test_a_deleted_or_cancelled_event_reads_as_deleted(fields):
    assert wire.managed_event(event_item(**fields)).deleted


@pytest.mark.parametrize("fields", [{"deleted": "true"}, {"status": "tentative"}, {"deleted": None}])
def test_only_a_real_deletion_or_cancellation_counts(fields):
    assert not wire.managed_event(event_item(**fields)).deleted


@pytest.mark.parametrize(
    "item",
    [
        "junk",
        None,
        event_item(event_id=None),
        event_item(event_id=""),
        event_item(calendar_id=""),
        {key: value for key, value in event_item().items() if key != "event_id"},  # an event we do not manage
    ],
)
def test_an_item_without_our_event_id_or_a_calendar_is_not_a_managed_event(item):
    assert wire.managed_event(item) is None


def test_odd_optional_fields_are_dropped_rather_than_guessed():
    event = wire.managed_event(
        event_item(
            summary=5,
            description=None,
            location="Room 4",
            attendees={"a": 1},
            updated="yesterday",
            start="2026-11-25T09:00:00",
        )
    )

    assert event.summary is None and event.description is None and event.location is None
    assert event.attendees == () and event.updated is None
    assert event.start == datetime(2026, 11, 25, 9, tzinfo=UTC)  # no offset read as UTC


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2014-08-05T14:30:00Z", datetime(2014, 8, 5, 14, 30, tzinfo=UTC)),
        ("2014-09-13T23:00:00+02:00", datetime(2014, 9, 13, 21, 0, tzinfo=UTC)),
        ("2014-08-05", None),
        ("", None),
        ("2014-13-05T14:30:00Z", None),
        (None, None),
        (1407249000, None),
    ],
)
def test_instants_read_times_and_leave_dates_and_junk_out(value, moment):
    assert wire.instant(value) == moment


def test_a_page_of_events_gives_its_events_and_the_next_page_on_the_same_host():
    # given
    data = {
        "pages": {"current": 1, "total": 2, "next_page": f"{API}/v1/events/pages/08a07b034306679e"},
        "events": [event_item(), event_item(event_id=None), event_item(event_id="mtg_2")],
    }

    # when
    events, next_url = wire.managed_events_page(data, API)

    # then
    assert [event.event_id for event in events] == ["mtg_1", "mtg_2"]
    assert next_url == f"{API}/v1/events/pages/08a07b034306679e"


@pytest.mark.parametrize("pages", [{"current": 2, "total": 2}, {"next_page": ""}, {"next_page": None}, None, []])
def test_the_last_page_has_no_next_page(pages):
    _, next_url = wire.managed_events_page({"events": [], "pages": pages}, API)

    assert next_url is None


@pytest.mark.parametrize(
    "next_page",
    [
        "https://api.cronofy.com/v1/events/pages/1",  # another data center
        "https://evil.example/v1/events/pages/1",
        f"{API}.evil.example/v1/events/pages/1",  # a look-alike host sharing the prefix
        "/v1/events/pages/1",  # relative
        API,  # the bare host, no path
    ],
)
def test_a_next_page_off_the_data_centers_api_host_is_refused(next_page):
    with pytest.raises(CronofyUnavailable, match="next_page pointed outside"):
        wire.managed_events_page({"events": [], "pages": {"next_page": next_page}}, API)


@pytest.mark.parametrize("data", [None, [], {}, {"events": {}}, {"pages": {}}])
def test_a_response_without_an_event_list_is_unusable(data):
    with pytest.raises(CronofyUnavailable, match="unexpected events response"):
        wire.managed_events_page(data, API)


# --- channels ------------------------------------------------------------------------------------


def test_a_channel_response_gives_its_id():
    data = {"channel": {"channel_id": "chn_1", "callback_url": "https://example.test/hook", "filters": {}}}

    assert wire.channel_id(data) == "chn_1"


@pytest.mark.parametrize("data", [None, {}, {"channel": "chn_1"}, {"channel": {"channel_id": 1}}])
def test_a_channel_response_without_an_id_is_unusable(data):
    with pytest.raises(CronofyUnavailable, match="unexpected channel response"):
        wire.channel_id(data)


# --- Retry-After ---------------------------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("999999", 86_400.0),
        (formatdate(NOW + 5, usegmt=True), 5.0),
        (formatdate(NOW - 60, usegmt=True), 0.0),
        (formatdate(NOW + 10 * 86_400, usegmt=True), 86_400.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("1.5", None),
        ("٣", None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(value, seconds):
    assert wire.parse_retry_after(value, now=NOW) == seconds


# --- errors --------------------------------------------------------------------------------------


def error(status, body=None, *, token_endpoint=False, retry_after=None):
    return wire.error_for(
        status,
        body,
        what="POST /oauth/token" if token_endpoint else "GET /v1/calendars",
        token_endpoint=token_endpoint,
        retry_after=retry_after,
    )


@pytest.mark.parametrize(
    ("status", "body", "token_endpoint", "kind"),
    [
        (400, {"error": "invalid_grant"}, True, InvalidGrant),
        (400, {"error": "invalid_request"}, True, CronofyBadRequest),
        (400, None, True, CronofyBadRequest),
        (400, {"error": "invalid_client"}, True, InvalidClient),
        (401, None, True, InvalidClient),
        (401, {"error": "invalid_grant"}, True, InvalidClient),
        (401, None, False, CronofyUnauthorized),
        (401, {"error": "invalid_client"}, False, CronofyUnauthorized),
        (403, {}, False, CronofyForbidden),
        (404, None, False, CronofyNotFound),
        (422, {"errors": {}}, False, CronofyValidationError),
        (423, {}, False, CronofyLocked),
        (429, None, False, CronofyRateLimited),
        (429, None, True, CronofyRateLimited),
        (500, {"error": "server_error"}, True, CronofyServerError),
        (502, None, False, CronofyServerError),
        (503, None, False, CronofyServerError),
        (504, [], False, CronofyServerError),
        (402, {}, False, CronofyError),
        (302, None, False, CronofyError),
    ],
)
def test_each_failed_answer_maps_to_its_typed_error(status, body, token_endpoint, kind):
    # when
    mapped = error(status, body, token_endpoint=token_endpoint)

    # then
    assert type(mapped) is kind
    assert mapped.status == status
    assert str(mapped).startswith(f"Cronofy answered {status} to ")


def test_server_errors_are_unavailable_and_so_retryable():
    assert isinstance(error(500), CronofyUnavailable)
    assert not isinstance(error(429), CronofyUnavailable)


def test_the_message_names_the_call_and_never_copies_upstream_text():
    # given an OAuth error string outside RFC 6749, as a misbehaving server might send
    body = {"error": "token=CANARY leaked", "error_description": "CANARY"}

    # when
    mapped = error(400, body, token_endpoint=True)

    # then
    assert str(mapped) == "Cronofy answered 400 to POST /oauth/token (bad request)"


def test_a_known_oauth_error_is_named():
    assert (
        str(error(400, {"error": "invalid_scope"}, token_endpoint=True))
        == "Cronofy answered 400 to POST /oauth/token (invalid_scope)"
    )


def test_a_422_keeps_the_errors_map_for_code():
    errors = {"event_id": [{"key": "errors.required", "description": "required"}]}

    assert error(422, {"errors": errors}).errors == errors


@pytest.mark.parametrize("body", [None, {}, {"errors": []}, {"errors": "bad"}, ["errors"]])
def test_a_422_with_an_odd_body_has_an_empty_errors_map(body):
    mapped = error(422, body)

    assert isinstance(mapped, CronofyValidationError) and mapped.errors == {}


@pytest.mark.parametrize(("retry_after", "seconds"), [("7", 7.0), (None, None), ("later", None)])
def test_a_429_carries_its_retry_after(retry_after, seconds):
    assert error(429, retry_after=retry_after).retry_after == seconds


def test_a_429_reads_an_http_date_retry_after():
    mapped = error(429, retry_after=formatdate(datetime.now(UTC).timestamp() + 30, usegmt=True))

    assert 25 <= mapped.retry_after <= 30


# --- import weight -------------------------------------------------------------------------------


def test_models_errors_and_wire_load_without_an_http_client():
    # given a fresh interpreter
    code = (
        "import sys, gql_api.cronofy.models, gql_api.cronofy.errors, gql_api.cronofy.wire\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'tenacity', 'aiohttp', 'strawberry', 'bson', 'pymongo', 'motor'))\n"
        "print(','.join(heavy))"
    )

    # when
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    # then
    assert loaded == ""
