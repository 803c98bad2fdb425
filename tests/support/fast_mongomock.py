"""mongomock made fit for thousands of documents, for the capacity simulation only.

mongomock finds a document by scanning every document of the collection, even by `_id`, and on every access
to a collection with a TTL index it scans it again for expired documents, by the real clock. A simulated
week with thousands of users spends its time there. Within `fast_mongomock()`:

- a filter on an exact `_id` (or `_id: {"$in": [...]}`) looks the documents up by key, then applies the rest
  of the filter as mongomock does: the same answers, without the scan;
- mongomock's own TTL expiry is off: it reads the real clock, which a simulated clock is years away from.
  The worker's retention sweep removes what the TTL indexes would, on the service's clock (the same sweep
  that stands in for MongoDB's TTL monitor on the in-memory store, gql_api/store/retention.py).

Nothing in gql_api changes: only the test double is faster.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

from mongomock import collection as mongomock_collection
from mongomock import store as mongomock_store
from mongomock.filtering import filter_applies

_scan = mongomock_collection.Collection._iter_documents


def _ids(filter: Any) -> list[Any] | None:
    """The `_id`s a filter names exactly; None when it does not."""
    if not isinstance(filter, dict) or "_id" not in filter:
        return None
    wanted = filter["_id"]
    if isinstance(wanted, dict):
        if set(wanted) == {"$in"} and isinstance(wanted["$in"], list | tuple):
            return list(wanted["$in"])
        return None
    return [wanted]


def _iter_documents(self: Any, filter: Any) -> Iterator[dict[str, Any]]:
    ids = _ids(filter)
    if ids is None:
        return _scan(self, filter)  # type: ignore[no-any-return]
    documents = self._store._documents
    found = [documents[key] for key in dict.fromkeys(ids) if _hashable(key) and key in documents]
    return (document for document in found if filter_applies(filter, document))


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _expire_nothing(self: Any) -> None:
    return None


@contextlib.contextmanager
def fast_mongomock() -> Iterator[None]:
    with (
        mock.patch.object(mongomock_collection.Collection, "_iter_documents", _iter_documents),
        mock.patch.object(mongomock_store.CollectionStore, "_remove_expired_documents", _expire_nothing),
    ):
        yield
