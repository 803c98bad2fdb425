"""Persisted documents over HTTP: automatic persisted queries as Apollo Client and urql speak them (POST
and GET), trusted documents from a manifest (GRAPHQL_TRUSTED_DOCUMENTS) named by `documentId`, Relay's
`doc_id` or the APQ hash, and `gql-api check-documents`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gql_api import Settings
from gql_api.graphql.documents import APQ_MAX_DOCUMENTS, PersistedDocuments, sha256
from gql_api.settings import ConfigError
from tests.support.documents import UPDATE
from tests.support.factories import schedule
from tests.support.live import live_socket, subscribed
from tests.support.relay import relay_compile

CONNECTIONS = "query Connections { calendarConnections { id } }"
MEETINGS = "query Meetings($first: Int) { meetings(first: $first) { edges { node { id title } } } }"
OTHER = "query Other { meetings { pageInfo { hasNextPage } } }"
PREFERS_NEW = "application/graphql-response+json, application/json;q=0.9"


def apq(document: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}}


async def post(api, payload: dict, **headers: str) -> tuple[int, dict]:
    response = await api.client.post(
        "/graphql", json=payload, headers={"Authorization": f"Bearer {api.token('alice')}", **headers}
    )
    return response.status, await response.json(content_type=None)


# --- automatic persisted queries ------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/json", PREFERS_NEW])
async def test_an_unknown_hash_answers_persisted_query_not_found_as_apollo_and_urql_expect(api, accept):
    status, body = await post(api, {"extensions": apq(CONNECTIONS)}, Accept=accept)

    assert status == 200  # as Apollo Server answers it, whatever the media type
    [error] = body["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_sent_once_with_its_hash_then_runs_by_hash_over_post_and_get(api):
    # given the client's second try, the query with its hash
    status, first = await post(api, {"query": CONNECTIONS, "extensions": apq(CONNECTIONS)})
    assert (status, first) == (200, {"data": {"calendarConnections": []}})

    # when it later sends the hash alone, by POST and by GET (Apollo's useGETForHashedQueries; */* as Apollo 3)
    _, by_post = await post(api, {"extensions": apq(CONNECTIONS), "operationName": "Connections"})
    by_get = await api.client.get(
        "/graphql",
        params={"extensions": json.dumps(apq(CONNECTIONS)), "operationName": "Connections"},
        headers={"Authorization": f"Bearer {api.token('alice')}", "Accept": "*/*"},
    )

    # then both run the document it sent the first time
    assert by_post == {"data": {"calendarConnections": []}}
    assert by_get.status == 200 and await by_get.json() == {"data": {"calendarConnections": []}}


async def test_a_hash_that_is_not_the_querys_is_refused(api):
    status, body = await post(api, {"query": CONNECTIONS, "extensions": apq(OTHER)})

    assert body["errors"][0]["message"] == "provided sha does not match query"
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST" and status == 200


async def test_a_document_that_does_not_validate_is_not_remembered(api):
    broken = "query Broken { calendarConnections { secretToken } }"
    _, body = await post(api, {"query": broken, "extensions": apq(broken)})
    assert body["errors"][0]["message"].startswith("Cannot query field")

    _, again = await post(api, {"extensions": apq(broken)})

    assert again["errors"][0]["message"] == "PersistedQueryNotFound"


@pytest.mark.parametrize(
    "persisted",
    [{"version": 2, "sha256Hash": "ab"}, {"version": 1}, "abc", {"version": 1, "sha256Hash": 5}],
    ids=["version", "no-hash", "not-an-object", "hash-not-a-string"],
)
async def test_a_malformed_persisted_query_is_a_bad_request(api, persisted):
    _, body = await post(api, {"extensions": {"persistedQuery": persisted}})

    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_the_apq_cache_is_bounded_and_forgets_the_least_recently_used():
    documents = PersistedDocuments()
    texts = [f"query Q{i} {{ __typename }}" for i in range(APQ_MAX_DOCUMENTS + 1)]
    for text in texts[:APQ_MAX_DOCUMENTS]:
        documents.remember(sha256(text), text)
    documents.resolve(None, apq(texts[0]), None)  # used: now the most recent

    documents.remember(sha256(texts[-1]), texts[-1])

    assert documents.resolve(None, apq(texts[0]), None) == (texts[0], None)
    assert documents.resolve(None, apq(texts[-1]), None) == (texts[-1], None)
    with pytest.raises(Exception, match="PersistedQueryNotFound"):
        documents.resolve(None, apq(texts[1]), None)


# --- trusted documents --------------------------------------------------------------------------------


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha256(CONNECTIONS): CONNECTIONS, "meetings-v1": MEETINGS}))
    return path


async def test_trusted_documents_run_by_document_id_doc_id_apq_hash_or_their_own_text(api_with, manifest):
    api = await api_with(graphql_trusted_documents=str(manifest))
    expected = {"data": {"calendarConnections": []}}

    _, by_document_id = await post(api, {"documentId": sha256(CONNECTIONS)})
    _, by_prefixed_id = await post(api, {"documentId": f"sha256:{sha256(CONNECTIONS)}"})
    _, by_doc_id = await post(api, {"doc_id": "meetings-v1", "variables": {"first": 5}})  # Relay's
    _, by_hash = await post(api, {"extensions": apq(CONNECTIONS)})
    _, by_text = await post(api, {"query": CONNECTIONS})
    by_get = await api.client.get(
        "/graphql",
        params={"doc_id": "meetings-v1", "variables": '{"first": 1}'},
        headers={"Authorization": f"Bearer {api.token('alice')}", "Accept": "*/*"},
    )

    assert by_document_id == by_prefixed_id == by_hash == by_text == expected
    assert by_doc_id == {"data": {"meetings": {"edges": []}}}
    assert by_get.status == 200 and await by_get.json() == {"data": {"meetings": {"edges": []}}}


async def test_trusted_documents_refuse_any_other_document_with_a_clear_error(api_with, manifest):
    api = await api_with(graphql_trusted_documents=str(manifest))

    status, other = await post(api, {"query": OTHER})
    _, registering = await post(api, {"query": OTHER, "extensions": apq(OTHER)})  # APQ cannot add documents
    _, unknown_id = await post(api, {"documentId": "not-in-the-manifest"})
    _, introspection = await post(api, {"query": "{ __schema { queryType { name } } }"})

    assert status == 200 and other["data"] is None
    for body in (other, registering, introspection):
        [error] = body["errors"]
        assert error["extensions"]["code"] == "TRUSTED_DOCUMENTS_ONLY"
        assert "only trusted documents" in error["message"]
    assert unknown_id["errors"][0]["message"] == "PersistedQueryNotFound"


async def test_without_a_manifest_any_document_runs(api):
    _, body = await post(api, {"query": OTHER})

    assert body == {"data": {"meetings": {"pageInfo": {"hasNextPage": False}}}}


async def test_a_relay_app_runs_its_persisted_queries_by_doc_id(api, api_with, tmp_path):
    # given a meeting, and a server (on the same store) trusting the manifest relay-compiler writes for the
    # Relay app of tests/e2e/relay
    meeting = await schedule(api)
    run, manifest = relay_compile(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    api = await api_with(graphql_trusted_documents=str(manifest))
    documents = json.loads(manifest.read_text())
    refetch_id = next(key for key, text in documents.items() if "query MeetingCardRefetchQuery" in text)

    # when the app refetches a meeting as Relay's network layer sends it: the id and the variables
    _, body = await post(api, {"doc_id": refetch_id, "variables": {"id": meeting["id"]}})

    # then the meeting comes back through node(id:)
    assert "errors" not in body, body
    assert body["data"]["node"]["id"] == meeting["id"] and body["data"]["node"]["title"] == "Mentoring session"


async def test_a_relay_app_subscribes_by_doc_id_over_a_websocket(api, api_with, tmp_path):
    # given a server trusting Relay's manifest, and the id Relay gives its meeting subscription
    meeting = await schedule(api)
    run, manifest = relay_compile(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    trusting = await api_with(graphql_trusted_documents=str(manifest))
    documents = json.loads(manifest.read_text())
    subscription_id = next(key for key, text in documents.items() if "LiveUpdatesMeetingSubscription" in text)

    async with live_socket(trusting.client, api.token("bob")) as bob:
        # when Relay's subscribe function sends it by id (graphql-ws: `{id: params.id, variables}`)
        await bob.subscribe("1", doc_id=subscription_id, variables={"id": meeting["id"]})
        await subscribed(trusting.client.app, "bob")
        await api.data(UPDATE, {"input": {"meetingId": meeting["id"], "title": "Persisted"}})

        # then the change comes, through the fragments of Relay's cards
        change = (await bob.next("1"))["data"]["meetingChanged"]
        assert (change["kind"], change["meeting"]["id"], change["meeting"]["title"]) == (
            "UPDATED",
            meeting["id"],
            "Persisted",
        )


def test_a_manifest_that_cannot_be_read_refuses_to_start(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('["query { a }"]')

    for path in (bad, tmp_path / "missing.json"):
        with pytest.raises(ConfigError, match="GRAPHQL_TRUSTED_DOCUMENTS"):
            Settings.from_env({"GRAPHQL_TRUSTED_DOCUMENTS": str(path)})


# --- gql-api check-documents ------------------------------------------------------------------------


def check_documents(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gql_api", "check-documents", str(path)], capture_output=True, text=True, timeout=60
    )


def test_check_documents_accepts_relays_manifest(tmp_path):
    run, manifest = relay_compile(tmp_path)
    assert run.returncode == 0

    checked = check_documents(manifest)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "7 documents: all valid" in checked.stdout  # two of them subscriptions


def test_check_documents_names_each_problem_and_exits_1(tmp_path):
    too_costly = (
        "query Costly { "
        + " ".join(
            f"m{i}: meetings(first: 100) {{ edges {{ node {{ participants {{ email }} }} }} }}" for i in range(4)
        )
        + " }"
    )
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",  # Apollo's own manifest format is read too
                "version": 1,
                "operations": [
                    {"id": sha256(CONNECTIONS), "name": "Connections", "type": "query", "body": CONNECTIONS},
                    {
                        "id": "typo",
                        "name": "Typo",
                        "type": "query",
                        "body": "query Typo { meetingz { edges { cursor } } }",
                    },
                    {"id": "costly", "name": "Costly", "type": "query", "body": too_costly},
                    {"id": sha256(OTHER), "name": "Wrong", "type": "query", "body": CONNECTIONS},
                    {"id": "syntax", "name": "Broken", "type": "query", "body": "query Broken {"},
                ],
            }
        )
    )

    checked = check_documents(path)

    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert any(line.startswith("typo (Typo): Cannot query field 'meetingz'") for line in lines)
    assert any(line.startswith("costly (Costly):") and "at most 20000" in line for line in lines)
    assert any(line.startswith(sha256(OTHER)) and "not its document's" in line for line in lines)
    assert any(line.startswith("syntax (?): Syntax Error") for line in lines)
    assert lines[-1] == "4 of 5 documents would not run here."


def test_check_documents_exits_2_on_a_manifest_it_cannot_read(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{not json")

    checked = check_documents(path)

    assert checked.returncode == 2 and "not JSON" in checked.stderr
