"""The Cronofy sandbox over real HTTP: OAuth, calendars, scopes, faults and the control API."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
from aiohttp import web

from gql_api.sandbox import SANDBOX_STATE
from tests.support.browser import ConsentForm
from tests.support.clock import FakeClock
from tests.support.sandbox import (
    CLIENT_ID,
    CLIENT_SECRET,
    PROFILE,
    REDIRECT_URI,
    START,
    Sandbox,
    exchange,
    redirect_query,
    sandbox_app,
    serving,
)

SCOPE = "list_calendars create_event delete_event"

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9]{32}")
SUB_PATTERN = re.compile(r"acc_[0-9a-f]{24}")


# -- browsing the consent page like a browser would ------------------------------------


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "state-123",
        "avoid_linking": "true",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


async def open_consent(http: httpx.AsyncClient, **overrides: str) -> tuple[httpx.Response, ConsentForm]:
    page = await http.get("oauth/authorize", params=authorize_params(**overrides))
    form = ConsentForm()
    form.feed(page.text)
    return page, form


async def decide(
    http: httpx.AsyncClient,
    decision: str = "allow",
    *,
    provider: str | None = None,
    profile: str | None = None,
    **overrides: str,
) -> httpx.Response:
    """Open the consent page, fill it in, press a button; the sandbox's redirect comes back."""
    page, form = await open_consent(http, **overrides)
    assert page.status_code == 200, page.text
    submitted = dict(form.fields, decision=decision)
    if provider is not None:
        submitted["provider_name"] = provider
    if profile is not None:
        submitted["profile_name"] = profile
    assert form.action is not None
    return await http.post(urljoin(str(page.url), form.action), data=submitted)


async def get_code(http: httpx.AsyncClient, **kwargs: Any) -> str:
    return redirect_query(await decide(http, **kwargs))["code"]


async def link(http: httpx.AsyncClient, **kwargs: Any) -> dict[str, Any]:
    """Authorize and exchange the code: the token response of a freshly linked account."""
    response = await exchange(http, await get_code(http, **kwargs))
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await http.post(
        "oauth/token",
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
    )


async def revoke(http: httpx.AsyncClient, **body: str) -> httpx.Response:
    return await http.post("oauth/token/revoke", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **body})


async def calendars(http: httpx.AsyncClient, access_token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return await http.get("v1/calendars", headers=headers)


async def control_state(http: httpx.AsyncClient) -> dict[str, Any]:
    return (await http.get("_control/state")).json()


# -- consent page ----------------------------------------------------------------------


async def test_consent_page_shows_a_form_carrying_the_request(sandbox: Sandbox) -> None:
    page, form = await open_consent(sandbox.http, provider_name="office365")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert (form.method, form.action) == ("post", "authorize")
    assert form.fields == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "state-123",
        "avoid_linking": "true",
        "provider_name": "office365",
        "profile_name": PROFILE,
    }
    assert form.options == ["google", "apple", "office365", "exchange", "live_connect"]
    assert sorted(form.buttons) == [("decision", "allow"), ("decision", "deny")]


async def test_consent_page_escapes_every_echoed_value(sandbox: Sandbox) -> None:
    hostile = '"><script>alert(1)</script>'
    await sandbox.configure(redirect_uris=[f"https://app.example.test/cb?x={hostile}"])
    page, form = await open_consent(
        sandbox.http, state=hostile, redirect_uri=f"https://app.example.test/cb?x={hostile}"
    )

    assert page.status_code == 200
    assert "<script>" not in page.text
    assert form.fields["state"] == hostile  # a browser gets the value back intact
    assert form.fields["redirect_uri"] == f"https://app.example.test/cb?x={hostile}"


async def test_consent_page_accepts_pycronofy_style_parameters(sandbox: Sandbox) -> None:
    page, form = await open_consent(sandbox.http, state="", provider_name="", avoid_linking="False")

    assert page.status_code == 200
    assert form.fields["provider_name"] == "google"
    assert form.fields["avoid_linking"] == "false"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"response_type": "token"}, "response_type"),
        ({"client_id": "someone-else"}, "client_id"),
        ({"redirect_uri": None}, "redirect_uri"),
        ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"scope": " "}, "scope"),
        ({"avoid_linking": "perhaps"}, "avoid_linking"),
    ],
)
async def test_invalid_authorize_requests_get_an_error_page_not_a_redirect(
    sandbox: Sandbox, overrides: dict[str, Any], complaint: str
) -> None:
    page = await sandbox.http.get("oauth/authorize", params=authorize_params(**overrides))

    assert page.status_code == 400
    assert "location" not in page.headers
    assert complaint in page.text
    assert page.headers["content-type"].startswith("text/html")


async def test_allow_redirects_with_code_and_state(sandbox: Sandbox) -> None:
    await sandbox.configure(redirect_uris=["https://app.example.test/cb?tenant=7"])
    response = await decide(sandbox.http, redirect_uri="https://app.example.test/cb?tenant=7")

    assert response.status_code == 302
    assert response.headers["referrer-policy"] == "no-referrer"
    location = urlsplit(response.headers["location"])
    assert location.path == "/cb"
    query = dict(parse_qsl(location.query))
    assert query.keys() == {"tenant", "code", "state"}
    assert query["state"] == "state-123"
    assert (await control_state(sandbox.http))["codes_outstanding"] == 1


async def test_deny_redirects_with_access_denied(sandbox: Sandbox) -> None:
    response = await decide(sandbox.http, "deny")

    assert redirect_query(response) == {"error": "access_denied", "state": "state-123"}
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert (await control_state(sandbox.http))["accounts"] == []


async def test_consent_post_is_validated_again(sandbox: Sandbox) -> None:
    response = await sandbox.http.post(
        "oauth/authorize",
        data={**authorize_params(redirect_uri="ftp://evil.example"), "decision": "allow"},
    )

    assert response.status_code == 400
    assert "location" not in response.headers


# -- code exchange ---------------------------------------------------------------------


@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
async def test_code_exchange_answers_in_cronofys_shape(sandbox: Sandbox, as_form: bool) -> None:
    code = await get_code(sandbox.http, provider="apple", profile="jane@example.com")

    response = await exchange(sandbox.http, code, as_form=as_form)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert list(body) == [
        "token_type",
        "access_token",
        "expires_in",
        "refresh_token",
        "scope",
        "account_id",
        "sub",
        "linking_profile",
    ]
    assert body["token_type"] == "bearer"
    assert TOKEN_PATTERN.fullmatch(body["access_token"])
    assert TOKEN_PATTERN.fullmatch(body["refresh_token"])
    assert body["expires_in"] == 3600
    assert body["scope"] == SCOPE
    assert SUB_PATTERN.fullmatch(body["sub"]) and body["account_id"] == body["sub"]
    profile = body["linking_profile"]
    assert profile["provider_name"] == "apple"
    assert profile["profile_name"] == "jane@example.com"
    assert profile["profile_id"].startswith("pro_")


async def test_json_body_with_charset_is_accepted(sandbox: Sandbox) -> None:
    code = await get_code(sandbox.http)
    body = (
        f'{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}",'
        f'"grant_type":"authorization_code","code":"{code}","redirect_uri":"{REDIRECT_URI}"}}'
    )
    response = await sandbox.http.post(
        "oauth/token", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


async def test_a_code_works_only_once(sandbox: Sandbox) -> None:
    code = await get_code(sandbox.http)
    assert (await exchange(sandbox.http, code)).status_code == 200

    again = await exchange(sandbox.http, code)

    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}


async def test_redirect_uri_mismatch_is_invalid_grant_and_uses_up_the_code(sandbox: Sandbox) -> None:
    code = await get_code(sandbox.http)

    mismatch = await exchange(sandbox.http, code, redirect_uri=REDIRECT_URI + "/")
    retry = await exchange(sandbox.http, code)

    assert (mismatch.status_code, mismatch.json()) == (400, {"error": "invalid_grant"})
    assert (retry.status_code, retry.json()) == (400, {"error": "invalid_grant"})


async def test_an_expired_code_is_invalid_grant(sandbox: Sandbox) -> None:
    code = await get_code(sandbox.http)
    sandbox.clock.advance(601)

    response = await exchange(sandbox.http, code)

    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})
    assert (await control_state(sandbox.http))["codes_outstanding"] == 0


@pytest.mark.parametrize("path", ["oauth/token", "oauth/token/revoke"])
@pytest.mark.parametrize(
    "credentials",
    [{"client_id": CLIENT_ID, "client_secret": "wrong"}, {"client_id": CLIENT_ID}, {}],
    ids=["wrong-secret", "no-secret", "nothing"],
)
async def test_bad_client_credentials_are_401(sandbox: Sandbox, path: str, credentials: dict[str, str]) -> None:
    response = await sandbox.http.post(path, json={**credentials, "grant_type": "refresh_token", "token": "x"})

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


@pytest.mark.parametrize(
    ("request_kwargs", "error"),
    [
        ({"json": {"grant_type": "password"}}, "unsupported_grant_type"),
        ({"json": {}}, "invalid_request"),
        ({"json": {"grant_type": "authorization_code"}}, "invalid_request"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "invalid_request"),
        ({"content": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, "invalid_request"),
        ({"content": b"client_id=x", "headers": {"Content-Type": "text/plain"}}, "invalid_request"),
    ],
    ids=["password-grant", "no-grant", "no-code", "bad-json", "json-array", "text-plain"],
)
async def test_token_endpoint_rejects_bad_requests(
    sandbox: Sandbox, request_kwargs: dict[str, Any], error: str
) -> None:
    if "json" in request_kwargs:
        request_kwargs = {"json": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **request_kwargs["json"]}}

    response = await sandbox.http.post("oauth/token", **request_kwargs)

    assert (response.status_code, response.json()) == (400, {"error": error})


# -- refresh ---------------------------------------------------------------------------


async def test_refresh_gives_a_new_access_token_and_keeps_the_refresh_token(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http)

    response = await refresh(sandbox.http, linked["refresh_token"])

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert list(body) == ["token_type", "access_token", "expires_in", "refresh_token", "scope"]
    assert body["access_token"] != linked["access_token"]
    assert body["refresh_token"] == linked["refresh_token"]
    assert body["scope"] == SCOPE
    assert (await refresh(sandbox.http, linked["refresh_token"])).status_code == 200


async def test_rotating_refresh_supersedes_the_old_refresh_token(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http)
    config = await sandbox.http.post("_control/config", json={"rotate_refresh_tokens": True, "access_token_ttl": 60})
    # The answer shows the whole configuration; the push settings are checked in test_sandbox_push.py.
    assert (
        config.json().items()
        >= {
            "access_token_ttl": 60,
            "code_ttl": 600,
            "rotate_refresh_tokens": True,
            "events_page_size": 50,
        }.items()
    )

    rotated = (await refresh(sandbox.http, linked["refresh_token"])).json()
    stale = await refresh(sandbox.http, linked["refresh_token"])

    assert rotated["refresh_token"] != linked["refresh_token"]
    assert rotated["expires_in"] == 60
    assert (stale.status_code, stale.json()) == (400, {"error": "invalid_grant"})
    assert (await refresh(sandbox.http, rotated["refresh_token"])).status_code == 200
    statuses = {t["token"]: t["status"] for t in (await control_state(sandbox.http))["tokens"]}
    assert statuses[linked["refresh_token"]] == "superseded"


async def test_unknown_refresh_token_is_invalid_grant(sandbox: Sandbox) -> None:
    response = await refresh(sandbox.http, "x" * 32)

    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})


# -- revocation ------------------------------------------------------------------------


async def test_revoking_the_refresh_token_ends_the_authorization(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http)
    refreshed = (await refresh(sandbox.http, linked["refresh_token"])).json()

    response = await revoke(sandbox.http, token=linked["refresh_token"])

    assert response.status_code == 200
    assert response.content == b""
    assert (await refresh(sandbox.http, linked["refresh_token"])).json() == {"error": "invalid_grant"}
    assert (await calendars(sandbox.http, linked["access_token"])).status_code == 401
    assert (await calendars(sandbox.http, refreshed["access_token"])).status_code == 401


async def test_revoking_by_sub_ends_every_authorization_of_that_account_only(sandbox: Sandbox) -> None:
    first = await link(sandbox.http)
    second = await link(sandbox.http)  # the same calendar account, authorized again
    other = await link(sandbox.http, profile="someone.else@example.com")
    assert first["sub"] == second["sub"] != other["sub"]

    response = await sandbox.http.post(
        "oauth/token/revoke", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "sub": first["sub"]}
    )

    assert response.status_code == 200
    for revoked in (first, second):
        assert (await refresh(sandbox.http, revoked["refresh_token"])).status_code == 400
        assert (await calendars(sandbox.http, revoked["access_token"])).status_code == 401
    assert (await calendars(sandbox.http, other["access_token"])).status_code == 200


async def test_the_token_wins_over_the_sub(sandbox: Sandbox) -> None:
    first = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")

    await revoke(sandbox.http, token=first["refresh_token"], sub=other["sub"])

    assert (await calendars(sandbox.http, first["access_token"])).status_code == 401
    assert (await calendars(sandbox.http, other["access_token"])).status_code == 200


async def test_revoking_an_unknown_token_still_answers_200(sandbox: Sandbox) -> None:
    assert (await revoke(sandbox.http, token="never-issued")).status_code == 200
    assert (await revoke(sandbox.http, sub="acc_000000000000000000000000")).status_code == 200

    neither = await revoke(sandbox.http)

    assert (neither.status_code, neither.json()) == (400, {"error": "invalid_request"})


# -- calendars and scopes --------------------------------------------------------------


async def test_calendars_of_a_new_account(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http, provider="google", profile="jane@example.com")

    response = await calendars(sandbox.http, linked["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == linked["sub"]
    listed = body["calendars"]
    assert [(c["calendar_name"], c["calendar_readonly"], c["calendar_primary"]) for c in listed] == [
        ("Holidays", True, False),
        ("Work", False, False),
        ("jane@example.com", False, True),
    ]
    profile_part = linked["linking_profile"]["profile_id"].removeprefix("pro_")
    for calendar in listed:
        assert calendar["calendar_id"].startswith(f"cal_{profile_part}_")
        assert calendar["provider_name"] == "google"
        assert calendar["profile_id"] == linked["linking_profile"]["profile_id"]
        assert calendar["profile_name"] == "jane@example.com"
        assert calendar["calendar_deleted"] is False
        assert calendar["permission_level"] == "sandbox"
        assert isinstance(calendar["calendar_integrated_conferencing_available"], bool)
        assert isinstance(calendar["calendar_attachments_available"], bool)
    assert any(set(c["calendar_id"]) & {"@", "-"} for c in listed)


@pytest.mark.parametrize("presented", [None, "Basic abc", "Bearer unknown-token-000000000000000"])
async def test_calendars_refuse_missing_or_unknown_tokens(sandbox: Sandbox, presented: str | None) -> None:
    headers = {"Authorization": presented} if presented else {}

    response = await sandbox.http.get("v1/calendars", headers=headers)

    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["www-authenticate"] == "Bearer"


async def test_access_tokens_expire_with_time_and_on_demand(sandbox: Sandbox) -> None:
    timed = await link(sandbox.http)
    other = await link(sandbox.http, profile="someone.else@example.com")
    sandbox.clock.advance(3600)

    assert (await calendars(sandbox.http, timed["access_token"])).status_code == 401
    fresh = (await refresh(sandbox.http, timed["refresh_token"])).json()
    fresh_other = (await refresh(sandbox.http, other["refresh_token"])).json()
    expired = await sandbox.http.post("_control/expire-tokens", json={"sub": timed["sub"]})

    assert expired.json() == {"expired": 1}
    assert (await calendars(sandbox.http, fresh["access_token"])).status_code == 401
    assert (await calendars(sandbox.http, fresh_other["access_token"])).status_code == 200
    assert (await sandbox.http.post("_control/expire-tokens")).json() == {"expired": 1}
    assert (await calendars(sandbox.http, fresh_other["access_token"])).status_code == 401


async def test_calendars_need_the_list_calendars_scope(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http, scope="create_event")

    response = await calendars(sandbox.http, linked["access_token"])

    assert linked["scope"] == "create_event"
    assert response.status_code == 403


async def test_same_provider_and_profile_give_the_same_sub(sandbox: Sandbox) -> None:
    first = await link(sandbox.http, provider="office365", profile="pat@example.com")
    relinked = await link(sandbox.http, provider="office365", profile="Pat@Example.com")
    other_provider = await link(sandbox.http, provider="exchange", profile="pat@example.com")
    other_profile = await link(sandbox.http, provider="office365", profile="sam@example.com")

    assert relinked["sub"] == first["sub"]
    assert relinked["linking_profile"] == first["linking_profile"]
    assert relinked["refresh_token"] != first["refresh_token"]
    assert len({first["sub"], other_provider["sub"], other_profile["sub"]}) == 3
    assert (await refresh(sandbox.http, first["refresh_token"])).status_code == 200


# -- faults, request log, control API -------------------------------------------------


async def test_a_fault_answers_once_then_normal_service_resumes(sandbox: Sandbox) -> None:
    queued = await sandbox.http.post(
        "_control/faults",
        json={"path": "/oauth/token", "method": "POST", "status": 503, "retry_after": 7, "body": {"oops": True}},
    )
    assert queued.status_code == 200
    linked_code = await get_code(sandbox.http)

    faulted = await exchange(sandbox.http, linked_code)
    normal = await exchange(sandbox.http, linked_code)

    assert faulted.status_code == 503
    assert faulted.headers["retry-after"] == "7"
    assert faulted.json() == {"oops": True}
    assert normal.status_code == 200  # the faulted request never reached the code
    log = (await sandbox.http.get("_control/requests")).json()
    assert [(r["path"], r["status"]) for r in log[-2:]] == [("/oauth/token", 503), ("/oauth/token", 200)]


async def test_faults_match_method_and_path_prefix_in_queue_order(sandbox: Sandbox) -> None:
    await sandbox.http.post("_control/faults", json={"path": "/v1/", "method": "DELETE", "status": 500})
    await sandbox.http.post("_control/faults", json={"path": "/v1/", "status": 429, "times": 2})
    await sandbox.http.post("_control/faults", json={"path": "/v1/", "status": 502})

    statuses = [(await calendars(sandbox.http, None)).status_code for _ in range(4)]

    assert statuses == [429, 429, 502, 401]
    pending = (await sandbox.http.get("_control/faults")).json()
    assert [(f["method"], f["status"]) for f in pending] == [("DELETE", 500)]
    assert (await sandbox.http.delete("_control/faults")).json() == {"cleared": 1}


async def test_a_delay_fault_slows_the_answer_then_handles_it(sandbox: Sandbox) -> None:
    await sandbox.http.post("_control/faults", json={"path": "/v1/calendars", "delay_seconds": 0.2})

    started = time.monotonic()
    response = await calendars(sandbox.http, None)

    assert time.monotonic() - started >= 0.2
    assert response.status_code == 401


async def test_a_reset_fault_drops_the_connection(sandbox: Sandbox) -> None:
    await sandbox.http.post("_control/faults", json={"path": "/oauth/token", "reset": True})

    with pytest.raises(httpx.TransportError):
        await refresh(sandbox.http, "whatever")

    assert (await refresh(sandbox.http, "whatever")).status_code == 400
    log = (await sandbox.http.get("_control/requests")).json()
    assert [r["status"] for r in log] == [0, 400]


@pytest.mark.parametrize(
    "fault",
    [{"path": "oauth"}, {"path": "/x", "status": 99}, {"path": "/x"}, {"path": "/x", "status": 500, "times": 0}],
)
async def test_nonsense_faults_are_refused(sandbox: Sandbox, fault: dict[str, Any]) -> None:
    response = await sandbox.http.post("_control/faults", json=fault)

    assert response.status_code == 400
    assert "error" in response.json()


async def test_the_request_log_records_paths_without_query_or_control_calls(sandbox: Sandbox) -> None:
    await decide(sandbox.http)
    await sandbox.http.get("v1/calendars?secret=1")
    await sandbox.http.get("_control/state")

    log = (await sandbox.http.get("_control/requests")).json()

    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/oauth/authorize", 200),
        ("POST", "/oauth/authorize", 302),
        ("GET", "/v1/calendars", 401),
    ]
    assert all(r["at"] == START for r in log)
    assert (await sandbox.http.delete("_control/requests")).status_code == 200
    assert (await sandbox.http.get("_control/requests")).json() == []


async def test_unknown_paths_are_404_json(sandbox: Sandbox) -> None:
    response = await sandbox.http.get("v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}
    log = (await sandbox.http.get("_control/requests")).json()
    assert [(r["path"], r["status"]) for r in log] == [("/v1/nothing-here", 404)]


async def test_control_state_shows_accounts_and_tokens(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http)

    state = await control_state(sandbox.http)

    assert [a["sub"] for a in state["accounts"]] == [linked["sub"]]
    assert state["accounts"][0]["profile_name"] == PROFILE
    assert len(state["accounts"][0]["calendars"]) == 3
    tokens = {t["kind"]: t for t in state["tokens"]}
    assert tokens["access"]["token"] == linked["access_token"]
    assert tokens["refresh"]["token"] == linked["refresh_token"]
    assert {t["status"] for t in state["tokens"]} == {"alive"}
    assert tokens["access"]["scope"] == SCOPE and tokens["access"]["issued_at"] == START
    assert state["codes_outstanding"] == 0


async def test_control_config_rejects_bad_values_and_changes_nothing(sandbox: Sandbox) -> None:
    response = await sandbox.http.post("_control/config", json={"access_token_ttl": 5, "rotate_refresh_tokens": "yes"})

    assert response.status_code == 400
    assert sandbox.app[SANDBOX_STATE].config.access_token_ttl == 3600


async def test_control_reset_forgets_everything(sandbox: Sandbox) -> None:
    linked = await link(sandbox.http)
    await sandbox.http.post("_control/config", json={"access_token_ttl": 5})
    await sandbox.http.post("_control/faults", json={"path": "/never", "status": 500})

    response = await sandbox.http.post("_control/reset")

    assert response.status_code == 200
    assert await control_state(sandbox.http) == {"accounts": [], "tokens": [], "codes_outstanding": 0}
    assert (await sandbox.http.get("_control/requests")).json() == []
    assert (await sandbox.http.get("_control/faults")).json() == []
    assert (await calendars(sandbox.http, linked["access_token"])).status_code == 401
    assert (await link(sandbox.http))["expires_in"] == 3600


# -- mounted inside another application ------------------------------------------------


async def test_the_whole_flow_works_when_mounted_as_a_sub_app() -> None:
    clock = FakeClock(START)
    parent = web.Application()
    parent.add_subapp("/sandbox/cronofy", sandbox_app(clock))

    async with serving(parent, "/sandbox/cronofy/") as http:
        response = await decide(http)
        assert response.status_code == 302  # the relative form action reached the sandbox
        linked_response = await exchange(http, redirect_query(response)["code"])
        assert linked_response.status_code == 200
        listed = await calendars(http, linked_response.json()["access_token"])
        missing = await http.get("nothing")
        log = (await http.get("_control/requests")).json()

    assert listed.status_code == 200
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})
    assert [(r["method"], r["path"]) for r in log] == [
        ("GET", "/oauth/authorize"),
        ("POST", "/oauth/authorize"),
        ("POST", "/oauth/token"),
        ("GET", "/v1/calendars"),
        ("GET", "/nothing"),
    ]
