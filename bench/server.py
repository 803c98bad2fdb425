"""The server under benchmark: the real app on the in-memory store, seeded at start-up through the
services' own code, plus baseline endpoints that do the same reads without GraphQL.

    python bench/server.py --port 8090 --sandbox-url http://127.0.0.1:8091

Each process seeds its own store the same way, so several processes on one port (SO_REUSEPORT)
answer the same reads.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from pathlib import Path

from aiohttp import web
from mongomock_motor import AsyncMongoMockClient

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from gql_api import Settings, create_app  # noqa: E402
from gql_api.auth import AuthenticationError  # noqa: E402
from gql_api.domain.identity import User  # noqa: E402
from gql_api.domain.validation import MeetingRequest, ParticipantRequest  # noqa: E402
from gql_api.graphql.types.connections import CalendarConnection  # noqa: E402
from gql_api.graphql.types.meetings import Meeting  # noqa: E402
from gql_api.keys import AUTHENTICATOR, RUNTIME  # noqa: E402
from tests.support.browser import consent  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
JWT_SECRET = "bench-jwt-secret-of-at-least-thirty-two-bytes"
REDIRECT_URI = "https://bench.example/linked"
READER = User(id="bench-user", email="bench@example.test")
PARTNER = User(id="bench-partner", email="partner@example.test")
MEETINGS = 200


def settings(port: int, sandbox_url: str) -> Settings:
    return Settings(
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        cronofy_client_id=CLIENT_ID,
        cronofy_client_secret=CLIENT_SECRET,
        cronofy_api_url=sandbox_url,
        cronofy_app_url=sandbox_url,
        auth_jwt_secret=JWT_SECRET,
        allowed_redirect_uris=(REDIRECT_URI,),
        worker_enabled=False,
        token_encryption_keys="bench:" + "A" * 43,
        log_format="text",
    )


async def seed(app: web.Application) -> None:
    services = app[RUNTIME].services
    for user, profiles in ((READER, ("one", "two", "three")), (PARTNER, ("partner",))):
        for profile in profiles:
            request = await services.linking.begin(user, redirect_uri=REDIRECT_URI, provider=None)
            callback = await consent(request.authorization_url, profile_name=f"{profile}@{user.id}.example")
            await services.linking.link(user, code=callback["code"], state=callback["state"])
    for i in range(MEETINGS):
        day, hour = divmod(i, 10)
        await services.meetings.schedule(
            READER,
            MeetingRequest(
                title=f"Meeting {i}",
                time_zone="Europe/London",
                start=_at(day, hour),
                end=_at(day, hour, minutes=45),
                participants=(ParticipantRequest(email=f"guest{i}@example.test"),),
            ),
        )


def _at(day: int, hour: int, minutes: int = 0):
    from datetime import datetime, timedelta

    return datetime(2027, 1, 1, 8, tzinfo=UTC) + timedelta(days=day, hours=hour, minutes=minutes)


def _viewer(request: web.Request) -> User:
    try:
        return request.app[AUTHENTICATOR].authenticate(request.headers.get("Authorization"))
    except AuthenticationError as error:
        raise web.HTTPUnauthorized(text=str(error)) from None


async def baseline_connections(request: web.Request) -> web.Response:
    """calendarConnections without GraphQL: same token check, same store code, same JSON shape."""
    connections = await request.app[RUNTIME].services.linking.connections(_viewer(request))
    items = []
    for connection in connections:
        c = CalendarConnection.of(connection)
        items.append(
            {
                "id": c.id,
                "provider": c.provider.name,
                "profileName": c.profile_name,
                "status": c.status.name,
                "calendar": {"name": c.calendar.name} if c.calendar else None,
            }
        )
    return web.json_response({"data": {"calendarConnections": items}})


async def baseline_meetings(request: web.Request) -> web.Response:
    page = await request.app[RUNTIME].services.meetings.page(
        _viewer(request), first=20, after=None, status=None, ends_from=None, starts_before=None
    )
    edges = []
    for meeting in page.meetings:
        m = Meeting.of(meeting)
        edges.append(
            {
                "node": {
                    "id": m.id,
                    "title": m.title,
                    "start": meeting.start.isoformat(),
                    "status": m.status.name,
                    "participants": [
                        {"email": p.email, "calendarEvent": {"status": p.calendar_event.status.name}}
                        for p in m.participants
                    ],
                }
            }
        )
    return web.json_response({"data": {"meetings": {"edges": edges, "pageInfo": {"hasNextPage": page.has_next_page}}}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sandbox-url", required=True)
    args = parser.parse_args()
    from gql_api.cli.serve import use_uvloop

    use_uvloop()
    # The in-memory store, handed over: with Cronofy credentials (the sandbox stands in for Cronofy here)
    # create_app refuses to pick the in-memory store itself.
    app = create_app(settings(args.port, args.sandbox_url), database=AsyncMongoMockClient(tz_aware=True)["bench"])
    app.router.add_get("/baseline/connections", baseline_connections)
    app.router.add_get("/baseline/meetings", baseline_meetings)
    app.on_startup.append(seed)
    web.run_app(app, host="127.0.0.1", port=args.port, reuse_port=True, access_log=None, print=None)


if __name__ == "__main__":
    main()
