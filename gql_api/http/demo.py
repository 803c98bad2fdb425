"""The dev server's own redirect URI: shows the code and state to finish linking with `linkCalendar`."""

from __future__ import annotations

import html

from aiohttp import web


async def demo_callback(request: web.Request) -> web.Response:
    code = html.escape(request.query.get("code", ""))
    state = html.escape(request.query.get("state", ""))
    error = html.escape(request.query.get("error", ""))
    body = (
        f"<p>Cronofy answered: <strong>{error}</strong></p>"
        if error
        else '<p>Finish linking with this mutation (in GraphiQL at <a href="/graphql">/graphql</a>, with your '
        "<code>Authorization: Bearer</code> header):</p>"
        f'<pre>mutation {{ linkCalendar(input: {{code: "{code}", state: "{state}"}}) {{\n'
        "  connection { id provider profileName status calendar { name } }\n"
        "  userErrors { code message field }\n}}</pre>"
    )
    page = f"<!doctype html><html><head><title>Calendar linked</title></head><body>{body}</body></html>"
    return web.Response(
        text=page, content_type="text/html", headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    )
