"""The pages Cronofy's "app" host shows the user's browser: the consent page and the relink page.

    GET  /oauth/authorize             the consent form for an authorize request (400 page when invalid)
    POST /oauth/authorize             the user's decision: redirect to the redirect URI with `code` and
                                      `state` (allow) or `error=access_denied` (deny)
    GET  /relink/{provider_name}      ?email=: the page a disconnected profile's `profile_relink_url` opens
    POST /relink/{provider_name}      reconnect that profile

Like Cronofy, the consent page redirects only to a redirect URI registered for the client
(`SandboxConfig.redirect_uris`, exact match); any other gets the 400 page, on GET and on POST.

The pages are HTML from `page.html` and `consent.html`, with every echoed value escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from string import Template
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from .config import SandboxConfig
from .keys import SANDBOX_PUSHER, SANDBOX_STATE
from .model import Account
from .oauth import first_values

RELINK_ROUTE = "cronofy_relink"

routes = web.RouteTableDef()

# The providers the consent page offers, as Cronofy names them, with labels for people.
PROVIDERS: dict[str, str] = {
    "google": "Google",
    "apple": "Apple iCloud",
    "office365": "Office 365",
    "exchange": "Exchange",
    "live_connect": "Outlook.com",
}
DEFAULT_PROVIDER = "google"
DEFAULT_PROFILE_NAME = "sandbox.user@example.com"

_TEMPLATES = resources.files(__package__)
_PAGE = Template(_TEMPLATES.joinpath("page.html").read_text("utf-8"))
_CONSENT = Template(_TEMPLATES.joinpath("consent.html").read_text("utf-8"))

# The consent page echoes request values; keep it from being framed or leaking the URL.
_HTML_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


class BadAuthorizeRequest(ValueError):
    """The authorize request is unusable; the message says why, for the developer."""


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str
    avoid_linking: bool


def parse_authorize_request(params: Mapping[str, str], config: SandboxConfig) -> AuthorizeRequest:
    if params.get("response_type") != "code":
        raise BadAuthorizeRequest("response_type must be 'code'.")
    client_id = params.get("client_id", "")
    if not client_id:
        raise BadAuthorizeRequest("client_id is missing.")
    if client_id != config.client_id:
        raise BadAuthorizeRequest(f"client_id {client_id!r} is not the sandbox's client.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise BadAuthorizeRequest("redirect_uri is missing.")
    _check_redirect_uri(redirect_uri)
    if redirect_uri not in config.redirect_uris:
        raise BadAuthorizeRequest(f"redirect_uri {redirect_uri!r} is not registered for this client.")
    scope = tuple(dict.fromkeys(params.get("scope", "").split()))  # drop repeats, keep order
    if not scope:
        raise BadAuthorizeRequest("scope is missing.")
    return AuthorizeRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=params.get("state", ""),
        avoid_linking=_parse_bool("avoid_linking", params.get("avoid_linking", "")),
    )


def _check_redirect_uri(redirect_uri: str) -> None:
    # Only ever redirect to an absolute web URL: never to javascript: or a relative path.
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadAuthorizeRequest("redirect_uri must be an absolute http or https URL.")
    if parts.fragment or "#" in redirect_uri:
        raise BadAuthorizeRequest("redirect_uri must not contain a fragment.")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in redirect_uri):
        raise BadAuthorizeRequest("redirect_uri must not contain whitespace.")


def _parse_bool(name: str, value: str) -> bool:
    # SDKs send true, True or False (pycronofy), so any case is fine; empty means false.
    lowered = value.strip().lower()
    if lowered in ("", "false"):
        return False
    if lowered == "true":
        return True
    raise BadAuthorizeRequest(f"{name} must be true or false.")


# -- the consent page ------------------------------------------------------------------


@routes.get("/oauth/authorize")
async def show_consent(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    try:
        auth = parse_authorize_request(request.query, state.config)
    except BadAuthorizeRequest as problem:
        return _error_page(str(problem))
    requested = request.query.get("provider_name", "").strip().lower()
    preselected = requested if requested in PROVIDERS else DEFAULT_PROVIDER
    return _html_page("Connect your calendar", _render_consent(auth, preselected))


@routes.post("/oauth/authorize")
async def decide_consent(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    form = first_values(await request.post())
    try:
        auth = parse_authorize_request(form, state.config)
        decision = form.get("decision")
        if decision == "deny":
            return _redirect(auth.redirect_uri, error="access_denied", state=auth.state)
        if decision != "allow":
            raise BadAuthorizeRequest("decision must be 'allow' or 'deny'.")
        return _allow(request, auth, form)
    except BadAuthorizeRequest as problem:
        return _error_page(str(problem))


def _allow(request: web.Request, auth: AuthorizeRequest, form: Mapping[str, str]) -> web.Response:
    state = request.app[SANDBOX_STATE]
    provider_name = form.get("provider_name", "").strip().lower()
    if provider_name not in PROVIDERS:
        raise BadAuthorizeRequest(f"provider_name must be one of {', '.join(PROVIDERS)}.")
    profile_name = form.get("profile_name", "").strip()
    if not profile_name:
        raise BadAuthorizeRequest("profile_name is required.")
    account = state.accounts.link(provider_name, profile_name)
    # Authorizing a disconnected profile again is how a user relinks it.
    request.app[SANDBOX_PUSHER].deliver_later(state.user.reconnect(account))
    code = state.tokens.issue_code(
        client_id=auth.client_id, redirect_uri=auth.redirect_uri, scope=auth.scope, sub=account.sub
    )
    return _redirect(auth.redirect_uri, code=code.code, state=auth.state)


def _render_consent(auth: AuthorizeRequest, preselected_provider: str) -> str:
    escape = html.escape
    options = "".join(
        f'<option value="{value}"{" selected" if value == preselected_provider else ""}>{escape(label)}</option>'
        for value, label in PROVIDERS.items()
    )
    return _CONSENT.substitute(
        # Relative, so the form works wherever the sandbox is mounted (same path, POST).
        action="authorize",
        response_type="code",
        client_id=escape(auth.client_id),
        redirect_uri=escape(auth.redirect_uri),
        scope=escape(" ".join(auth.scope)),
        scope_items="".join(f"<li><code>{escape(scope)}</code></li>" for scope in auth.scope),
        state=escape(auth.state),
        avoid_linking="true" if auth.avoid_linking else "false",
        provider_options=options,
        profile_name=escape(DEFAULT_PROFILE_NAME),
    )


def _error_page(problem: str) -> web.Response:
    content = (
        "<h1>This authorization request is not valid</h1>"
        f'<p class="error">{html.escape(problem)}</p>'
        "<p>Check the link that brought you here.</p>"
    )
    return _html_page("Invalid request", content, status=400)


def _html_page(title: str, content: str, status: int = 200) -> web.Response:
    body = _PAGE.substitute(title=html.escape(title), content=content)
    return web.Response(text=body, status=status, content_type="text/html", headers=_HTML_HEADERS)


def _redirect(redirect_uri: str, **params: str) -> web.Response:
    query = urlencode({name: value for name, value in params.items() if value})
    if "?" not in redirect_uri:
        location = f"{redirect_uri}?{query}"
    elif redirect_uri.endswith(("?", "&")):
        location = redirect_uri + query
    else:
        location = f"{redirect_uri}&{query}"
    return web.Response(
        status=302,
        headers={"Location": location, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
    )


# -- relinking a disconnected profile ----------------------------------------------------


def relink_url(request: web.Request, account: Account) -> str:
    """The absolute `profile_relink_url` on the host and mount point of this request."""
    relative = request.app.router[RELINK_ROUTE].url_for(provider_name=account.provider_name)
    return str(request.url.join(relative.with_query(email=account.profile_name)))


@routes.get("/relink/{provider_name}", name=RELINK_ROUTE)
async def show_relink(request: web.Request) -> web.Response:
    account = _relinked_account(request)
    content = (
        "<h1>Reconnect your calendar</h1>"
        f"<p>Cronofy lost access to <code>{html.escape(account.profile_name)}</code> "
        f"({html.escape(PROVIDERS.get(account.provider_name, account.provider_name))}).</p>"
        f'<form method="post"><div class="actions">'
        f'<button type="submit" name="decision" value="allow">Reconnect</button></div></form>'
    )
    return _html_page("Reconnect your calendar", content)


@routes.post("/relink/{provider_name}")
async def relink(request: web.Request) -> web.Response:
    account = _relinked_account(request)
    request.app[SANDBOX_PUSHER].deliver_later(request.app[SANDBOX_STATE].user.reconnect(account))
    content = (
        f"<h1>Calendar reconnected</h1><p><code>{html.escape(account.profile_name)}</code> is connected again.</p>"
    )
    return _html_page("Calendar reconnected", content)


def _relinked_account(request: web.Request) -> Account:
    account = request.app[SANDBOX_STATE].accounts.by_profile(
        request.match_info["provider_name"], request.query.get("email", "")
    )
    if account is None:
        raise web.HTTPNotFound()
    return account
