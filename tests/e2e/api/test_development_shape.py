"""The development server answers only to loopback names (DNS rebinding), and what exists only in the
development shape (the sandbox, the demo page) does not exist in production (issue 12, items 3 and 4).

Over raw sockets: the Host header is the point, and HTTP clients set it themselves."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from gql_api import Settings, create_app
from tests.support.raw_http import exchange, request


@pytest.fixture
async def dev_server(database, clock, api_port):
    """The app on embedded defaults (the development shape), on 127.0.0.1."""
    settings = Settings(public_base_url=f"http://127.0.0.1:{api_port}", worker_enabled=False)
    assert settings.development
    server = TestServer(create_app(settings, database=database, clock=clock), host="127.0.0.1", port=api_port)
    await server.start_server()
    yield server
    await server.close()


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "localhost.evil.example", "0.0.0.0:{port}"],
)
@pytest.mark.parametrize("path", ["/healthz", "/graphql", "/sandbox/cronofy/_control/state", "/demo/calendar-linked"])
async def test_a_request_for_another_host_name_is_misdirected_in_development(dev_server, host, path):
    # given the development server, and a page of another site whose name now resolves to 127.0.0.1
    # when its script asks for a path of ours under its own name
    answer = await exchange(dev_server.port, request("GET", path, host=host.format(port=dev_server.port)))

    # then it gets 421 Misdirected Request, whatever the path (the sandbox's open control API included)
    assert answer.status == 421, answer.head
    assert b"only to localhost" in answer.body


async def test_a_request_without_a_usable_host_is_misdirected_in_development(dev_server):
    # given the development server
    # when a request's Host is empty, or a loopback address with a port that is no number
    empty = await exchange(dev_server.port, request("GET", "/healthz", host=b""))
    odd_port = await exchange(dev_server.port, request("GET", "/healthz", host=b"127.0.0.1:80x"))

    # then neither is served
    assert (empty.status, odd_port.status) == (421, 421)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}", "127.0.0.1"])
async def test_loopback_names_on_any_port_are_served_in_development(dev_server, host):
    # given the development server
    # when a request names this machine by a loopback name or address, with or without a port
    answer = await exchange(dev_server.port, request("GET", "/healthz", host=host.format(port=dev_server.port)))

    # then it is served
    assert answer.status == 200, answer.head


async def test_production_serves_its_public_name(api):
    # given a production-shaped server (behind a proxy that passes the public name on)
    # when a request names it by that name
    answer = await exchange(api.client.server.port, request("GET", "/healthz", host="calendar-api.example.com"))

    # then it is served: the Host check is development's, the proxy's job in production
    assert answer.status == 200, answer.head


@pytest.mark.parametrize(
    "path", ["/sandbox/cronofy/_control/state", "/sandbox/cronofy/oauth/authorize", "/demo/calendar-linked"]
)
async def test_the_sandbox_and_the_demo_page_do_not_exist_in_production(api, path):
    # given a production-shaped server
    # when the sandbox's control API, its consent page or the demo callback is asked for
    response = await api.client.get(path)

    # then there is no such thing
    assert response.status == 404
