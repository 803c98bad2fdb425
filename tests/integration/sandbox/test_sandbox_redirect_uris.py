"""The consent page redirects only to the redirect URIs registered for the client, like Cronofy.

Registration is an exact-match list (`SandboxConfig.redirect_uris`, changeable through the control
API). Anything else gets the 400 error page and no redirect, whether the consent page is opened
(GET) or its form is posted (allow or deny); nothing registered means nothing redirects.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.sandbox import CLIENT_ID, PROFILE, REDIRECT_URI, START, Sandbox, sandbox_app, serving

SCOPE = "list_calendars create_event"

UNREGISTERED = {
    "another host": "https://evil.example.test/calendars/callback",
    "same host, another path": "https://app.example.test/calendars/elsewhere",
    "a parent path": "https://app.example.test/calendars",
    "plain http": REDIRECT_URI.replace("https://", "http://"),
    "an extra query string": REDIRECT_URI + "?next=/admin",
    "an empty query string": REDIRECT_URI + "?",
    "a trailing slash": REDIRECT_URI + "/",
    "a longer path": REDIRECT_URI + "/more",
    "another case": REDIRECT_URI.upper().replace("HTTPS://", "https://"),
}


def authorize_params(redirect_uri: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": "state-123",
        "avoid_linking": "true",
        **extra,
    }


async def open_consent(http: httpx.AsyncClient, redirect_uri: str) -> httpx.Response:
    return await http.get("oauth/authorize", params=authorize_params(redirect_uri))


async def post_consent(http: httpx.AsyncClient, redirect_uri: str, decision: str) -> httpx.Response:
    """The form posted as a browser (or an attacker) would, without opening the page first."""
    form = authorize_params(redirect_uri, provider_name="google", profile_name=PROFILE, decision=decision)
    return await http.post("oauth/authorize", data=form)


def assert_not_registered_page(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "is not registered for this client" in response.text


async def assert_nothing_issued(http: httpx.AsyncClient) -> None:
    state = (await http.get("_control/state")).json()
    assert state["codes_outstanding"] == 0
    assert state["accounts"] == []


def redirected_query(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    base, _, query = location.partition("?")
    assert base == urlsplit(redirect_uri)._replace(query="").geturl()
    return dict(parse_qsl(query))


# -- unregistered redirect URIs ------------------------------------------------------------


@pytest.mark.parametrize("redirect_uri", list(UNREGISTERED.values()), ids=list(UNREGISTERED))
async def test_opening_the_consent_page_for_an_unregistered_redirect_uri_shows_the_error_page(
    sandbox: Sandbox, redirect_uri: str
) -> None:
    page = await open_consent(sandbox.http, redirect_uri)

    assert_not_registered_page(page)
    assert 'id="consent"' not in page.text  # no form to post


@pytest.mark.parametrize("decision", ["allow", "deny"])
@pytest.mark.parametrize("redirect_uri", list(UNREGISTERED.values()), ids=list(UNREGISTERED))
async def test_posting_the_consent_form_for_an_unregistered_redirect_uri_shows_the_error_page(
    sandbox: Sandbox, redirect_uri: str, decision: str
) -> None:
    response = await post_consent(sandbox.http, redirect_uri, decision)

    assert_not_registered_page(response)
    await assert_nothing_issued(sandbox.http)


async def test_the_error_page_names_the_refused_redirect_uri_escaped(sandbox: Sandbox) -> None:
    hostile = 'https://evil.example.test/cb?x="><script>alert(1)</script>'

    page = await open_consent(sandbox.http, hostile)

    assert_not_registered_page(page)
    assert "<script>" not in page.text
    assert "https://evil.example.test/cb?x=&quot;&gt;&lt;script&gt;" in page.text


async def test_a_malformed_redirect_uri_is_still_refused_for_its_form_first(sandbox: Sandbox) -> None:
    await sandbox.configure(redirect_uris=["javascript:alert(1)"])

    page = await open_consent(sandbox.http, "javascript:alert(1)")

    assert page.status_code == 400
    assert "location" not in page.headers
    assert "absolute http or https URL" in page.text


# -- nothing registered --------------------------------------------------------------------


async def test_a_sandbox_with_no_redirect_uris_registered_redirects_nowhere() -> None:
    async with serving(sandbox_app(FakeClock(START), redirect_uris=())) as http:
        assert_not_registered_page(await open_consent(http, REDIRECT_URI))
        assert_not_registered_page(await post_consent(http, REDIRECT_URI, "allow"))
        assert_not_registered_page(await post_consent(http, REDIRECT_URI, "deny"))
        await assert_nothing_issued(http)


async def test_unregistering_every_redirect_uri_through_the_control_api_stops_redirects(sandbox: Sandbox) -> None:
    echoed = await sandbox.configure(redirect_uris=[])

    assert echoed["redirect_uris"] == []
    assert_not_registered_page(await open_consent(sandbox.http, REDIRECT_URI))
    assert_not_registered_page(await post_consent(sandbox.http, REDIRECT_URI, "allow"))


# -- registered redirect URIs --------------------------------------------------------------


async def test_a_registered_redirect_uri_gets_the_code_and_state(sandbox: Sandbox) -> None:
    page = await open_consent(sandbox.http, REDIRECT_URI)
    response = await post_consent(sandbox.http, REDIRECT_URI, "allow")

    assert page.status_code == 200
    query = redirected_query(response, REDIRECT_URI)
    assert query.keys() == {"code", "state"}
    assert query["state"] == "state-123"


async def test_a_registered_redirect_uri_gets_access_denied(sandbox: Sandbox) -> None:
    response = await post_consent(sandbox.http, REDIRECT_URI, "deny")

    assert redirected_query(response, REDIRECT_URI) == {"error": "access_denied", "state": "state-123"}


async def test_every_registered_redirect_uri_works_each_exactly(sandbox: Sandbox) -> None:
    tenant = "https://app.example.test/cb?tenant=7"
    echoed = await sandbox.configure(redirect_uris=[REDIRECT_URI, tenant])

    assert echoed["redirect_uris"] == [REDIRECT_URI, tenant]
    for registered in (REDIRECT_URI, tenant):
        query = redirected_query(await post_consent(sandbox.http, registered, "allow"), registered)
        assert "code" in query and query["state"] == "state-123"
    assert dict(parse_qsl(urlsplit(tenant).query)).items() <= query.items()  # its own query is kept
    assert_not_registered_page(await post_consent(sandbox.http, "https://app.example.test/cb?tenant=8", "allow"))
    assert_not_registered_page(await post_consent(sandbox.http, "https://app.example.test/cb", "allow"))


# -- the control API -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["https://app.example.test/cb", [""], [7], None, {"uri": REDIRECT_URI}])
async def test_control_config_refuses_bad_redirect_uris_and_changes_nothing(sandbox: Sandbox, bad: object) -> None:
    response = await sandbox.http.post("_control/config", json={"redirect_uris": bad})

    assert response.status_code == 400
    assert "redirect_uris" in response.json()["error"]
    assert redirected_query(await post_consent(sandbox.http, REDIRECT_URI, "allow"), REDIRECT_URI)["code"]


async def test_control_reset_restores_the_registered_redirect_uris(sandbox: Sandbox) -> None:
    await sandbox.configure(redirect_uris=["https://elsewhere.example.test/cb"])

    await sandbox.http.post("_control/reset")

    assert redirected_query(await post_consent(sandbox.http, REDIRECT_URI, "allow"), REDIRECT_URI)["code"]
    assert_not_registered_page(await post_consent(sandbox.http, "https://elsewhere.example.test/cb", "allow"))
