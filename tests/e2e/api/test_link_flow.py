"""The whole linking capability over real HTTP: API and Cronofy sandbox on loopback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.support.api import REDIRECT_URI
from tests.support.browser import consent
from tests.support.documents import CONNECTIONS, LINK, UNLINK
from tests.support.factories import begin_link, link_account

CONNECTION = """
query One($id: ID!) { calendarConnection(id: $id) { id profileName status calendar { name } } }"""


async def test_link_status_relink_unlink_end_to_end(api, sandbox):
    # given a user who starts linking
    authorization_url = await begin_link(api, provider="OFFICE365")

    # then the URL is Cronofy's authorize page with least-privilege scopes and no implicit linking
    url = urlsplit(authorization_url)
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert url.path.endswith("/oauth/authorize")
    assert query["response_type"] == "code"
    assert query["scope"] == "list_calendars create_event delete_event"
    assert query["avoid_linking"] == "true"
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["provider_name"] == "office365"
    assert len(query["state"]) >= 43

    # when the browser consents and the SPA hands back code and state
    callback = await consent(authorization_url, profile_name="alice@example.test", provider_name="office365")
    assert callback["state"] == query["state"]
    payload = (await api.data(LINK, {"input": {"code": callback["code"], "state": callback["state"]}}))["linkCalendar"]

    # then the connection is stored, active, on the primary writable calendar
    assert payload["userErrors"] == []
    connection = payload["connection"]
    assert connection["provider"] == "OFFICE365"
    assert connection["profileName"] == "alice@example.test"
    assert connection["status"] == "ACTIVE"
    assert connection["scopes"] == ["list_calendars", "create_event", "delete_event"]
    assert connection["calendar"]["primary"] is True
    assert connection["calendar"]["name"] == "alice@example.test"
    assert connection["lastSyncedAt"] is not None  # the push channel is open: changes are followed from here
    assert connection["linkedAt"].endswith("Z")

    # and the status query shows it (mobile apps poll this)
    listed = (await api.data(CONNECTIONS))["calendarConnections"]
    assert [c["id"] for c in listed] == [connection["id"]]
    one = (await api.data(CONNECTION, {"id": connection["id"]}))["calendarConnection"]
    assert one["status"] == "ACTIVE"

    # when the same account is linked again
    relinked = await link_account(api, profile_name="alice@example.test", provider_name="office365")

    # then it is the same connection, updated in place, and the grant it replaced is revoked
    assert relinked["id"] == connection["id"]
    assert relinked["status"] == "ACTIVE"
    assert len((await api.data(CONNECTIONS))["calendarConnections"]) == 1
    assert sorted(t["status"] for t in await sandbox.tokens("refresh")) == ["alive", "revoked"]

    # when the user unlinks
    unlinked = (await api.data(UNLINK, {"input": {"connectionId": connection["id"]}}))["unlinkCalendar"]

    # then it is gone, and Cronofy saw the stored refresh token (and the whole account) revoked
    assert unlinked == {"unlinkedConnectionId": connection["id"], "userErrors": []}
    assert (await api.data(CONNECTIONS))["calendarConnections"] == []
    assert (await api.data(CONNECTION, {"id": connection["id"]}))["calendarConnection"] is None
    assert {t["status"] for t in await sandbox.tokens("refresh")} == {"revoked"}
    assert {t["status"] for t in await sandbox.tokens("access")} <= {"revoked", "expired"}
    revocations = [r for r in await sandbox.requests() if r["path"] == "/oauth/token/revoke"]
    assert [r["status"] for r in revocations] == [200, 200, 200]  # the replaced grant; token and account


async def test_connections_are_newest_first_and_private_to_their_owner(api):
    first = await link_account(api, user="alice", profile_name="alice@work.test")
    second = await link_account(api, user="alice", profile_name="alice@home.test", provider_name="apple")
    bobs = await link_account(api, user="bob", profile_name="bob@example.test")

    alice_sees = (await api.data(CONNECTIONS, user="alice"))["calendarConnections"]
    bob_sees = (await api.data(CONNECTIONS, user="bob"))["calendarConnections"]

    assert [c["id"] for c in alice_sees] == [second["id"], first["id"]]
    assert alice_sees[0]["provider"] == "APPLE"
    assert [c["id"] for c in bob_sees] == [bobs["id"]]
    # Bob cannot read or unlink Alice's connection, and learns nothing about it
    assert (await api.data(CONNECTION, {"id": first["id"]}, user="bob"))["calendarConnection"] is None
    denied = (await api.data(UNLINK, {"input": {"connectionId": first["id"]}}, user="bob"))["unlinkCalendar"]
    assert denied["unlinkedConnectionId"] is None
    assert [e["code"] for e in denied["userErrors"]] == ["NOT_FOUND"]
    assert len((await api.data(CONNECTIONS, user="alice"))["calendarConnections"]) == 2


async def test_ids_are_opaque(api, database):
    connection = await link_account(api)
    stored_ids = [str(doc["_id"]) async for doc in database["calendar_connections"].find({}, {"_id": 1})]
    assert len(stored_ids) == 1
    assert connection["id"] != stored_ids[0]
    assert stored_ids[0] not in connection["id"]
