"""Thin resolvers, one module per domain: GraphQL input -> service call -> payload.

Each module declares its own `Query` and `Mutation` fields; they are merged here, in the order the
schema shows them. Business rules live in `gql_api.services`, error mapping in `gql_api.graphql.errors`.
"""

from strawberry.tools import merge_types

from .connections import ConnectionMutation, ConnectionQuery, ConnectionSubscription
from .meetings import MeetingMutation, MeetingQuery, MeetingSubscription
from .nodes import NodeQuery
from .privacy import PrivacyMutation, PrivacyQuery

Query = merge_types("Query", (ConnectionQuery, MeetingQuery, NodeQuery, PrivacyQuery))
Mutation = merge_types("Mutation", (ConnectionMutation, MeetingMutation, PrivacyMutation))
Subscription = merge_types("Subscription", (ConnectionSubscription, MeetingSubscription))

__all__ = ["Mutation", "Query", "Subscription"]
