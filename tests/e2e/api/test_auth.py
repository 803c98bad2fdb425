"""Every operation needs a valid bearer token; failures say UNAUTHENTICATED and carry no data."""

from __future__ import annotations

import dataclasses
import time

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gql_api import create_app
from tests.support.api import JWT_SECRET, Api
from tests.support.documents import CONNECTIONS, LINK

INTROSPECTION = "query { __schema { queryType { name } } __typename }"


def claims(**extra):
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 600, **extra}


def unauthenticated(body: dict) -> bool:
    return body.get("data") is None and [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer not-a-jwt",
        "Bearer " + jwt.encode(claims(), "some-other-secret-of-32-bytes-or-more!", algorithm="HS256"),
        "Bearer " + jwt.encode(claims(exp=int(time.time()) - 3600), JWT_SECRET, algorithm="HS256"),
        "Bearer " + jwt.encode({"sub": "alice"}, JWT_SECRET, algorithm="HS256"),  # no expiry
        "Bearer " + jwt.encode(claims(sub=""), JWT_SECRET, algorithm="HS256"),
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",  # alg "none", unsigned
    ],
    ids=[
        "missing",
        "empty",
        "no-token",
        "blank-token",
        "basic",
        "garbage",
        "wrong-signature",
        "expired",
        "no-exp",
        "empty-sub",
        "alg-none",
    ],
)
async def test_bad_or_missing_tokens_are_unauthenticated_with_no_data(api, header):
    headers = {} if header is None else {"Authorization": header}
    for document, variables in ((CONNECTIONS, {}), (LINK, {"input": {"code": "c", "state": "s"}})):
        body = await api.gql(document, variables, user=None, headers=headers)
        assert unauthenticated(body), body


async def test_expired_token_says_so(api):
    token = jwt.encode(claims(exp=int(time.time()) - 3600), JWT_SECRET, algorithm="HS256")
    body = await api.gql(CONNECTIONS, user=None, headers={"Authorization": f"Bearer {token}"})
    assert "expired" in body["errors"][0]["message"]


async def test_introspection_needs_no_token_but_a_mixed_query_does(api):
    body = await api.gql(INTROSPECTION, user=None)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    mixed = await api.gql("query { __typename calendarConnections { id } }", user=None)
    assert unauthenticated(mixed)


async def test_malformed_graphql_gets_a_readable_error_not_a_500(api):
    status, body = await api.post(
        {"query": "query { calendarConnections { id "}, headers={"Authorization": f"Bearer {api.token('alice')}"}
    )
    assert status in (200, 400)
    assert "Syntax Error" in body["errors"][0]["message"]
    body = await api.gql("query { calendarConnections { secretToken } }")
    assert "Cannot query field 'secretToken'" in body["errors"][0]["message"]
    status, body = await api.post({"query": 42}, headers={"Authorization": f"Bearer {api.token('alice')}"})
    assert status == 400


async def test_no_graphiql_with_real_client_auth_and_no_mutations_over_get(api):
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status == 404  # GraphiQL is for dev mode, or when GRAPHIQL_ENABLED says so
    token = api.token("alice")
    mutation = await api.client.get(
        "/graphql",
        params={"query": 'mutation { beginCalendarLink(input: {redirectUri: "x"}) { authorizationUrl } }'},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert mutation.status == 400


def _pem(private_key) -> tuple[str, str]:
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_key, public


@pytest.mark.parametrize(
    ("algorithm", "private_key"),
    [
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
    ],
)
async def test_public_key_tokens_with_issuer_and_audience(settings, database, algorithm, private_key):
    _, public_pem = _pem(private_key)
    configured = dataclasses.replace(
        settings,
        auth_jwt_secret=None,
        auth_jwt_public_key=public_pem,
        auth_jwt_issuer="https://id.example.test",
        auth_jwt_audience="calendar-api",
    )
    good = jwt.encode(claims(iss="https://id.example.test", aud="calendar-api"), private_key, algorithm=algorithm)
    wrong_issuer = jwt.encode(claims(iss="https://evil.test", aud="calendar-api"), private_key, algorithm=algorithm)
    wrong_audience = jwt.encode(claims(iss="https://id.example.test", aud="other"), private_key, algorithm=algorithm)
    hs256_with_public_key = jwt.encode(
        claims(iss="https://id.example.test", aud="calendar-api"), JWT_SECRET, algorithm="HS256"
    )

    async with TestClient(TestServer(create_app(configured, database=database), host="127.0.0.1")) as client:
        api = Api(client, configured)
        ok = await api.gql(CONNECTIONS, user=None, headers={"Authorization": f"Bearer {good}"})
        assert ok == {"data": {"calendarConnections": []}}
        for token in (wrong_issuer, wrong_audience, hs256_with_public_key):
            body = await api.gql(CONNECTIONS, user=None, headers={"Authorization": f"Bearer {token}"})
            assert unauthenticated(body)
