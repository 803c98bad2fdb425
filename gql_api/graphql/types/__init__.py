"""GraphQL types, inputs and payloads of the client contract (../shared/contract.graphql), by domain."""
