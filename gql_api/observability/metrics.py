"""Prometheus metrics, one registry per app so tests and processes never mix."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..cronofy.budget import DEFERRED

CONTENT_TYPE = CONTENT_TYPE_LATEST
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_LABELS = 200  # client-chosen names: bound the label values a client can create


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.graphql_requests = Counter(
            "graphql_requests",
            "GraphQL operations served, by outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.graphql_seconds = Histogram(
            "graphql_request_seconds", "GraphQL operation latency", ["operation"], registry=self.registry
        )
        self.cronofy_calls = Counter(
            "cronofy_calls",
            "Calls to Cronofy by endpoint, purpose and HTTP status (0: no answer; deferred: not sent, the "
            "background share of the rate budget was spent)",
            ["endpoint", "purpose", "status"],
            registry=self.registry,
        )
        self.cronofy_seconds = Histogram(
            "cronofy_call_seconds", "Cronofy call latency", ["endpoint", "purpose"], registry=self.registry
        )
        self.refreshes = Counter(
            "cronofy_token_refreshes", "Access-token refreshes, by result", ["result"], registry=self.registry
        )
        self.webhooks = Counter(
            "cronofy_webhooks",
            "Cronofy push notifications received, by type and answer",
            ["type", "status"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "outbox_pending_meetings", "Meetings with calendar work due or backing off", registry=self.registry
        )
        self.outbox_age = Gauge(
            "outbox_oldest_due_seconds", "How long the oldest due calendar work has waited", registry=self.registry
        )
        self.websockets = Gauge(
            "live_websockets", "Authenticated WebSockets open on this process", registry=self.registry
        )
        self.subscriptions = Gauge(
            "live_subscriptions", "Subscriptions running on this process", registry=self.registry
        )
        self._operations: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _OPERATION_NAME.match(name):
            return "invalid"
        if name not in self._operations and len(self._operations) >= MAX_OPERATION_LABELS:
            return "other"
        self._operations.add(name)
        return name

    def observe_graphql(self, operation: str | None, outcome: str, seconds: float) -> None:
        label = self.operation_label(operation)
        self.graphql_requests.labels(label, outcome).inc()
        self.graphql_seconds.labels(label).observe(seconds)

    def observe_cronofy(self, endpoint: str, purpose: str, status: int, seconds: float) -> None:
        """Labels from fixed sets only: the gateway's endpoint names, the purposes, HTTP statuses."""
        self.cronofy_calls.labels(endpoint, purpose, "deferred" if status == DEFERRED else str(status)).inc()
        if status != DEFERRED:
            self.cronofy_seconds.labels(endpoint, purpose).observe(seconds)

    def count_live(self, *, websockets: Callable[[], float], subscriptions: Callable[[], float]) -> None:
        self.websockets.set_function(websockets)
        self.subscriptions.set_function(subscriptions)

    def refreshed(self, result: str) -> None:
        self.refreshes.labels(result).inc()

    def webhook(self, kind: str, status: int) -> None:
        self.webhooks.labels(kind if _OPERATION_NAME.match(kind) else "invalid", str(status)).inc()

    def exposition(self, *, outbox_depth: int, oldest_due: datetime | None, now: datetime) -> bytes:
        self.outbox_depth.set(outbox_depth)
        self.outbox_age.set(max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0)
        return generate_latest(self.registry)
