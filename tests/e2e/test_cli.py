"""The `gql-api` commands as a new user types them, in real subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gql_api.auth import Authenticator
from gql_api.cli.serve import startup_line
from gql_api.settings import Settings
from gql_api.vault import KeyRing
from tests.support.browser import consent
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG_VARIABLES = (
    "MONGODB_URI",
    "CRONOFY_CLIENT_ID",
    "CRONOFY_CLIENT_SECRET",
    "CRONOFY_API_URL",
    "CRONOFY_APP_URL",
    "TOKEN_ENCRYPTION_KEYS",
    "AUTH_JWT_SECRET",
    "AUTH_JWT_PUBLIC_KEY",
    "ALLOWED_REDIRECT_URIS",
    "PUBLIC_BASE_URL",
    "HOST",
    "PORT",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    return {**env, **extra}


def gql_api(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gql_api", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env or clean_env(),
        timeout=timeout,
    )


def test_export_schema_prints_the_committed_sdl():
    result = gql_api("export-schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text()


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "gql-api"
    assert script.exists(), "pip install the project to get the gql-api console script"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "serve" in result.stdout


def test_generate_key_prints_a_usable_key_ring_entry():
    result = gql_api("generate-key", "--id", "k2026")
    assert result.returncode == 0, result.stderr
    ring = KeyRing.parse(result.stdout.strip())
    assert ring.active_kid == "k2026" and len(ring.keys["k2026"]) == 32
    assert gql_api("generate-key").stdout != gql_api("generate-key").stdout


def test_dev_token_is_accepted_by_a_dev_server():
    result = gql_api("dev-token", "u-42", "--email", "pat@example.test", "--name", "Pat")
    assert result.returncode == 0, result.stderr
    user = Authenticator(Settings()).authenticate(f"Bearer {result.stdout.strip()}")
    assert (user.id, user.email, user.name) == ("u-42", "pat@example.test", "Pat")


def test_dev_token_mints_the_partners_integration_and_roles_claims():
    # given the dev-token command with a partner twice, the integration off and a role
    result = gql_api(
        "dev-token", "u-42", "--partner", "u-7", "--partner", "u-9", "--no-calendar-integration", "--role", "admin"
    )

    # when the dev server reads the token it prints
    assert result.returncode == 0, result.stderr
    user = Authenticator(Settings()).authenticate(f"Bearer {result.stdout.strip()}")

    # then the user carries them
    assert (user.id, user.partners, user.calendar_integration, user.roles) == (
        "u-42",
        frozenset({"u-7", "u-9"}),
        False,
        frozenset({"admin"}),
    )


def test_dev_token_refuses_when_tokens_come_from_an_identity_provider():
    # a real public key, in a whole production configuration: start-up refuses a key that is no key
    public_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    env = clean_env(
        AUTH_JWT_PUBLIC_KEY=public_pem,
        CRONOFY_CLIENT_ID="client",
        CRONOFY_CLIENT_SECRET="secret",
        TOKEN_ENCRYPTION_KEYS="k:x",
        ALLOWED_REDIRECT_URIS="https://app.example.test/linked",
    )
    result = gql_api("dev-token", "u-42", env=env)
    assert result.returncode == 2 and "identity provider" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOKEN_ENCRYPTION_KEYS": "k1:c2hvcnQ"}, "TOKEN_ENCRYPTION_KEYS: key 'k1' must decode to 32 bytes"),
        ({"TOKEN_ENCRYPTION_KEYS": "just-a-password"}, "expected KEY_ID:KEY"),
        ({"CRONOFY_DATA_CENTER": "mars"}, "CRONOFY_DATA_CENTER must be one of"),
        ({"PORT": "eighty"}, "PORT must be a number"),
        ({"MONGODB_DRIVER": "odbc"}, "MONGODB_DRIVER must be one of"),
        ({"CRONOFY_CLIENT_ID": "only-the-id"}, "must be set together"),
        ({"HOST": "0.0.0.0"}, "dev auth accepts tokens anyone can mint"),
        ({"PUBLIC_BASE_URL": "https://calendar-api.example.com"}, "before serving at PUBLIC_BASE_URL"),
        ({"AUTH_JWT_SECRET": "s" * 32}, "CRONOFY_CLIENT_ID is unset, so the built-in Cronofy sandbox"),
        ({"AUTH_JWT_SECRET": "too-short"}, "AUTH_JWT_SECRET must be at least 32 bytes"),
    ],
)
def test_serve_refuses_a_broken_configuration_with_a_clear_message(env, message):
    result = gql_api("serve", "--port", str(free_port()), env=clean_env(**env))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_on_embedded_defaults_links_a_calendar_end_to_end(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gql_api", "serve", "--port", str(port)],
            cwd=ROOT,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            assert (await http.get("/readyz")).json() == {"status": "ready"}

            token = gql_api("dev-token", "alice").stdout.strip()
            headers = {"Authorization": f"Bearer {token}"}

            async def gql(query: str) -> dict:
                response = await http.post("/graphql", json={"query": query}, headers=headers)
                assert response.status_code == 200
                body = response.json()
                assert "errors" not in body, body
                return body["data"]

            begun = await gql(
                f'mutation {{ beginCalendarLink(input: {{redirectUri: "{base}/demo/calendar-linked"}})'
                " { authorizationUrl userErrors { code } } }"
            )
            authorization_url = begun["beginCalendarLink"]["authorizationUrl"]
            assert authorization_url.startswith(f"{base}/sandbox/cronofy/oauth/authorize?")

            callback = await consent(authorization_url)
            demo = await http.get("/demo/calendar-linked", params=callback)
            assert demo.status_code == 200 and callback["code"] in demo.text
            assert demo.headers["Referrer-Policy"] == "no-referrer"

            linked = await gql(
                f'mutation {{ linkCalendar(input: {{code: "{callback["code"]}", '
                f'state: "{callback["state"]}"}}) {{ connection {{ id status }} userErrors {{ code }} }} }}'
            )
            connection = linked["linkCalendar"]["connection"]
            assert connection["status"] == "ACTIVE"
            unlinked = await gql(
                f'mutation {{ unlinkCalendar(input: {{connectionId: "{connection["id"]}"}}) '
                "{ unlinkedConnectionId } }"
            )
            assert unlinked["unlinkCalendar"]["unlinkedConnectionId"] == connection["id"]

            state = (await http.get("/sandbox/cronofy/_control/state")).json()
            assert [t["status"] for t in state["tokens"] if t["kind"] == "refresh"] == ["revoked"]
            tokens = [t["token"] for t in state["tokens"]]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)

    log = log_path.read_text()
    assert server.returncode == 0, log
    assert f"GraphQL at {base}/graphql (GraphiQL in a browser)" in log
    for announcement in ("in-memory store", "built-in Cronofy sandbox", "ephemeral encryption key", "dev auth"):
        assert announcement in log
    assert all(token not in log for token in tokens)
    assert callback["code"] not in log and callback["state"] not in log  # access log drops query strings
    assert parse_qs(urlsplit(authorization_url).query)["state"][0] not in log


def test_several_processes_need_a_shared_database():
    result = gql_api("serve", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 2 and "--workers above 1 needs MONGODB_URI" in result.stderr


@pytest.mark.parametrize(("graphiql", "says_graphiql"), [("true", True), ("false", False)])
def test_the_startup_line_mentions_graphiql_only_when_it_is_served(graphiql, says_graphiql):
    # given development settings with GraphiQL on, or off
    settings = Settings.from_env({"GRAPHIQL_ENABLED": graphiql})

    # when the start-up line is written
    line = startup_line(settings)

    # then it sends people to GraphiQL only when there is one
    assert line.startswith("GraphQL at http://127.0.0.1:8080/graphql")
    assert ("GraphiQL in a browser" in line) is says_graphiql
