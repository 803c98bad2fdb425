"""aiohttp, not GraphQL: the routes, the middleware around /graphql, health, metrics, webhooks, the demo page."""
