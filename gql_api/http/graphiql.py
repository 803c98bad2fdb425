"""GraphiQL's files, vendored in the package (gql_api/graphql/ide.py), served where its page loads them."""

from __future__ import annotations

from aiohttp import web

from ..graphql import ide

ROUTE = ide.ASSETS_PATH + "/{name}"
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}
CACHE = "public, max-age=86400"


async def graphiql_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    stored = ide.asset(name)
    if stored is None:
        raise web.HTTPNotFound()
    content_type = MEDIA_TYPES[name[name.rindex(".") :]]
    headers = {"Cache-Control": CACHE, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=stored, content_type=content_type, charset="utf-8", headers=headers)
    return web.Response(body=ide.decompressed(name), content_type=content_type, charset="utf-8", headers=headers)
