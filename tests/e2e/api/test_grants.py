"""Cronofy grants live exactly as long as a stored connection needs them (issue 12, items 6, 11 and 12).

A grant that will not be stored is revoked at once; a grant wider than we ask for is never stored; an
unlink's revocation owed while Cronofy was away never ends a grant stored after it (the account linked again).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.support.api import Api
from tests.support.browser import consent
from tests.support.documents import CONNECTIONS, LINK, UNLINK
from tests.support.factories import begin_link, link_account
from tests.support.sandbox import Sandbox


async def refresh_tokens(sandbox: Sandbox) -> list[str]:
    return [t["status"] for t in await sandbox.tokens("refresh")]


def with_scope(authorization_url: str, scope: str) -> str:
    parts = urlsplit(authorization_url)
    query = dict(parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=urlencode({**query, "scope": scope})))


async def test_a_grant_wider_than_we_ask_for_is_refused_and_revoked(api, sandbox, database):
    # given an authorization URL whose scope was edited on its way to the browser (read_events added)
    url = await begin_link(api)
    callback = await consent(with_scope(url, "list_calendars create_event delete_event read_events"))

    # when the link is finished with that code
    payload = (await api.data(LINK, {"input": callback}))["linkCalendar"]

    # then nothing is stored, the user is told why, and Cronofy's grant is ended
    assert payload["connection"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("NOT_ALLOWED", ["input", "code"])]
    assert await database["calendar_connections"].count_documents({}) == 0
    assert await refresh_tokens(sandbox) == ["revoked"]


async def test_a_link_failing_after_the_code_exchange_leaves_no_live_grant(api, sandbox, database):
    callback = await consent(await begin_link(api))
    await sandbox.fault(path="/v1/calendars", status=502)

    payload = (await api.data(LINK, {"input": callback}))["linkCalendar"]

    assert [e["code"] for e in payload["userErrors"]] == ["UPSTREAM_UNAVAILABLE"]
    assert await database["calendar_connections"].count_documents({}) == 0
    assert await refresh_tokens(sandbox) == ["revoked"]


async def test_a_grant_for_an_account_a_stored_connection_holds_is_left_alone(api, sandbox):
    # given Alice has linked the shared account
    await link_account(api, user="alice", profile_name="shared@example.test")

    # when Bob's link of the same account is refused
    callback = await consent(await begin_link(api, user="bob"), profile_name="shared@example.test")
    payload = (await api.data(LINK, {"input": callback}, user="bob"))["linkCalendar"]

    # then no grant is revoked: Cronofy may have handed back the credential Alice's connection uses
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_ALLOWED"]
    assert await refresh_tokens(sandbox) == ["alive", "alive"]
    assert [c["status"] for c in (await api.data(CONNECTIONS, user="alice"))["calendarConnections"]] == ["ACTIVE"]


async def test_an_owed_revocation_never_ends_a_grant_stored_after_it(api: Api, sandbox, clock):
    # given Alice unlinks while Cronofy's revoke is failing: the revocation is owed
    connection = await link_account(api)
    await sandbox.fault(path="/oauth/token/revoke", status=503, times=1)
    await api.data(UNLINK, {"input": {"connectionId": connection["id"]}})

    # when she links the same account again, and later the owed revocation is paid
    relinked = await link_account(api)
    clock.advance(hours=2)
    assert (await api.work("revocations"))["revocations"] == 1

    # then the old grant is revoked, the new one lives, and the new connection keeps working
    assert await refresh_tokens(sandbox) == ["revoked", "alive"]
    statuses = [c["status"] for c in (await api.data(CONNECTIONS))["calendarConnections"]]
    assert statuses == ["ACTIVE"] and relinked["status"] == "ACTIVE"
