"""Persisted documents: automatic persisted queries (APQ), and trusted documents from a manifest.

Two modes, chosen once per process (`GRAPHQL_TRUSTED_DOCUMENTS`):

- **APQ** (no manifest): the protocol Apollo Client and urql speak. A request may carry, instead of its
  `query`, `extensions.persistedQuery = {version: 1, sha256Hash}`; a hash this process knows runs its
  document, an unknown one answers the GraphQL error "PersistedQueryNotFound" (code
  PERSISTED_QUERY_NOT_FOUND, HTTP 200), and the client sends the query with its hash once, which this
  process then remembers. Any other document runs as usual. The documents are kept **per process** in
  a bounded LRU (`APQ_MAX_DOCUMENTS`, `APQ_MAX_CHARACTERS`): APQ only saves bandwidth, the protocol
  heals a miss with one round trip, so with N processes behind a balancer a document is sent at most N
  times. Shared storage in MongoDB would cost a database read on the hot path of every hashed request
  and give any signed-in client a place to write to that all processes share, for no gain in safety.
- **Trusted documents** (`GRAPHQL_TRUSTED_DOCUMENTS=path`): only the documents of the manifest run,
  whichever way a request names them: `documentId` or Relay's `doc_id` (a key of the manifest), the APQ
  hash (a key, or the SHA-256 of a document), or the full text of a manifest document. Anything else is
  refused with code TRUSTED_DOCUMENTS_ONLY before it is parsed. The manifest is read at start-up from a
  file every process deploys, so all processes agree.

Manifests: the JSON object `{id: document}` that GraphQL Code Generator's client preset
(`persisted-documents.json`) and Relay (`persistConfig`) write, or Apollo's persisted query manifest
(`{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body", ...}]}`). `gql-api
check-documents MANIFEST` validates one against the schema and the query limits before a deploy.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphql import GraphQLError

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
TRUSTED_DOCUMENTS_ONLY = "TRUSTED_DOCUMENTS_ONLY"
BAD_REQUEST = "BAD_REQUEST"
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # the message Apollo Client and urql look for
APQ_MAX_DOCUMENTS = 1000
APQ_MAX_CHARACTERS = 8 * 1024 * 1024
DOCUMENT_ID_FIELDS = ("documentId", "doc_id")  # GraphQL over HTTP's persisted documents; Relay's example
APOLLO_MANIFEST = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"^(sha256:)?([0-9a-f]{64})$")


class ManifestError(ValueError):
    """The manifest cannot be read as a map of document ids to documents."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hash_in(key: str) -> str | None:
    """The SHA-256 an id spells (`<hex>` or `sha256:<hex>`), or None for ids of another kind."""
    found = _SHA256.match(key.lower())
    return found.group(2) if found else None


def load_manifest(path: str | Path) -> dict[str, str]:
    """The manifest at `path` as {id: document}; ManifestError saying what is wrong with it."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"cannot read {path}: {error}") from None
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise ManifestError(f"{path} is not JSON: {error}") from None
    return parse_manifest(parsed, str(path))


def parse_manifest(parsed: Any, where: str = "the manifest") -> dict[str, str]:
    if isinstance(parsed, dict) and parsed.get("format") == APOLLO_MANIFEST:
        operations = parsed.get("operations")
        if not isinstance(operations, list) or not all(
            isinstance(op, dict) and isinstance(op.get("id"), str) and isinstance(op.get("body"), str)
            for op in operations
        ):
            raise ManifestError(f"{where}: an Apollo manifest needs `operations`, each with a string `id` and `body`")
        parsed = {op["id"]: op["body"] for op in operations}
    if not isinstance(parsed, dict) or not all(
        isinstance(key, str) and key and isinstance(value, str) and value.strip() for key, value in parsed.items()
    ):
        raise ManifestError(f"{where} must be a JSON object of document ids to documents (strings)")
    return dict(parsed)


class Refused(GraphQLError):
    """A request whose document cannot run, said as a GraphQL error before anything is parsed."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


class PersistedDocuments:
    """What runs for a request's `query`, `extensions.persistedQuery` and `documentId` (see the module)."""

    def __init__(self, manifest: Mapping[str, str] | None = None) -> None:
        self.trusted = dict(manifest) if manifest is not None else None
        self._by_hash = {sha256(text): text for text in (manifest or {}).values()}
        self._remembered: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._characters = 0

    @classmethod
    def from_path(cls, path: str | None) -> PersistedDocuments:
        return cls(load_manifest(path) if path else None)

    def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None, document_id: object
    ) -> tuple[str | None, str | None]:
        """(the document to run, the APQ hash to remember once it validates); Refused otherwise. No
        document at all is left to Strawberry ("No GraphQL query found in the request")."""
        wanted_hash = _persisted_hash(extensions)
        if document_id is not None and (not isinstance(document_id, str) or not document_id):
            raise Refused("`documentId` must be a non-empty string.", BAD_REQUEST)
        if query is not None:
            digest = sha256(query)
            if wanted_hash is not None and digest != wanted_hash:
                raise Refused("provided sha does not match query", BAD_REQUEST)  # Apollo Server's words
            if self.trusted is not None:
                if digest not in self._by_hash:
                    raise Refused(
                        "This server runs only trusted documents (GRAPHQL_TRUSTED_DOCUMENTS), and this one is not "
                        "among them: send the `documentId` of a document in its manifest.",
                        TRUSTED_DOCUMENTS_ONLY,
                    )
                return query, None
            return query, wanted_hash
        key = document_id if isinstance(document_id, str) else wanted_hash
        if key is None:
            return None, None
        found = self._lookup(key)
        if found is None:
            raise Refused(NOT_FOUND_MESSAGE, PERSISTED_QUERY_NOT_FOUND)
        return found, None

    def remember(self, wanted_hash: str, query: str) -> None:
        """Keep a document sent with its hash (APQ mode only), evicting the least recently used."""
        if self.trusted is not None or wanted_hash in self._remembered or len(query) > APQ_MAX_CHARACTERS:
            return
        self._remembered[wanted_hash] = query
        self._characters += len(query)
        while len(self._remembered) > APQ_MAX_DOCUMENTS or self._characters > APQ_MAX_CHARACTERS:
            _, evicted = self._remembered.popitem(last=False)
            self._characters -= len(evicted)

    def _lookup(self, key: str) -> str | None:
        digest = hash_in(key)
        if self.trusted is not None:
            return self.trusted.get(key) or (self._by_hash.get(digest) if digest else None)
        if digest is None or digest not in self._remembered:
            return None
        self._remembered.move_to_end(digest)
        return self._remembered[digest]


def _persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    wanted = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(persisted, dict) or persisted.get("version") != 1 or not isinstance(wanted, str):
        raise Refused("`extensions.persistedQuery` must be {version: 1, sha256Hash: <hex>}.", BAD_REQUEST)
    return wanted.lower()


def document_id_in(body: object) -> object:
    """The document id a request body (a decoded JSON object) or a query string names, if any."""
    if not isinstance(body, Mapping):
        return None
    return next((body[name] for name in DOCUMENT_ID_FIELDS if body.get(name) is not None), None)
