"""GraphiQL is served by this server from files vendored in the package: the page names no other host,
its Content-Security-Policy allows none, and each file it loads is served here, as vendored."""

from __future__ import annotations

import gzip
import hashlib
import re

from gql_api.graphql import ide

SCRIPT_OR_STYLE = re.compile(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"[^>]*integrity="([^"]+)"')


async def test_graphiql_loads_nothing_from_another_host(api_with):
    api = await api_with(graphiql_enabled=True)

    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    html = await page.text()

    assert page.status == 200 and "GraphiQL" in html
    assert page.headers["Content-Type"].startswith("text/html")  # a page the browser renders, not JSON
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no CDN, no other host
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self' 'nonce-" in policy and "connect-src 'self'" in policy
    assert "unpkg" not in html and "jsdelivr" not in html


async def test_every_file_the_page_loads_is_served_as_vendored(api_with):
    api = await api_with(graphiql_enabled=True)
    html = await (await api.client.get("/graphql", headers={"Accept": "text/html"})).text()
    loaded = SCRIPT_OR_STYLE.findall(html)
    assert {url.rsplit("/", 1)[1] for url, _ in loaded} == set(ide.vendored())

    for url, integrity in loaded:
        # as a browser asks for it (gzip), and as a client that takes no compression
        zipped = await api.client.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        plain = await api.client.get(url, headers={"Accept-Encoding": "identity"})
        name = url.rsplit("/", 1)[1]
        body = gzip.decompress(await zipped.read())

        assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
        assert await plain.read() == body and "Content-Encoding" not in plain.headers
        assert hashlib.sha256(body).hexdigest() == ide.vendored()[name]["sha256"]
        assert integrity == ide.vendored()[name]["integrity"]  # the browser checks it too (SRI)
        assert zipped.headers["Content-Type"].startswith("text/javascript" if name.endswith(".js") else "text/css")


async def test_graphiql_pins_the_versions_it_vendors():
    versions = {(meta["package"], meta["version"]) for meta in ide.vendored().values()}

    assert versions == {
        ("graphiql", "3.8.3"),
        ("react", "18.2.0"),
        ("react-dom", "18.2.0"),
        ("@graphiql/plugin-explorer", "1.0.2"),
    }


async def test_no_graphiql_files_without_graphiql(api_with):
    api = await api_with(graphiql_enabled=False)

    assert (await api.client.get("/graphiql/graphiql.min.js")).status == 404


async def test_an_unknown_file_is_not_found(api_with):
    api = await api_with(graphiql_enabled=True)

    for name in ("nope.js", "..%2Fvendored.json", "vendored.json", "index.html"):
        assert (await api.client.get(f"/graphiql/{name}")).status == 404
