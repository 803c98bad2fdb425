"""Counting MongoDB commands: what one request costs the database."""

from __future__ import annotations

import collections


class CountingDatabase:
    """Wraps a motor-style database and counts collection method calls by (collection, method): one
    call is one MongoDB command (cursors here never outgrow their first batch)."""

    def __init__(self, database, counts: collections.Counter) -> None:
        self._database, self._counts = database, counts

    def __getitem__(self, name: str):
        return _CountingCollection(self._database[name], name, self._counts)

    def __getattr__(self, name: str):
        attribute = getattr(self._database, name)
        if name == "command":

            def command(*args, **kwargs):
                self._counts[("<db>", "command")] += 1
                return attribute(*args, **kwargs)

            return command
        return attribute


class _CountingCollection:
    def __init__(self, collection, name: str, counts: collections.Counter) -> None:
        self._collection, self._name, self._counts = collection, name, counts

    def __getattr__(self, method: str):
        attribute = getattr(self._collection, method)
        if not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self._counts[(self._name, method)] += 1
            return attribute(*args, **kwargs)

        return counted
