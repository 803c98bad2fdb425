"""Thin resolvers: GraphQL input -> service call -> payload. Business rules live in gql_api.services."""
